"""The node's input subscriptions: QoS from ROS's standard overrides, reliability matched to
the publishers, and DDS-lost samples counted.

QoS comes from the standard parameters ``qos_overrides.<topic>.subscription.{reliability,
depth,history}`` (rclpy's QoSOverridingOptions, as image_pipeline nodes declare them). Their
default reliability is ``best_available`` (``system_default`` on distributions older than Iron,
which lack it): the node then subscribes reliable while every publisher of the topic is
reliable, and best effort otherwise (none yet, or a best-effort one), as rosbag2 adapts to the
publishers it records. Unlike the middleware's own best_available, which looks once at
creation, the publishers are looked at again every ``REFRESH_PERIOD_S`` and the subscription
is re-created when the answer changes (a camera started after the node, a second one).

Why it matters: a raw frame of 1 MB and more travels as many UDP datagrams even on one host
(it does not fit Fast DDS's default 512 KiB shared-memory segment), and with a best-effort
subscription one datagram lost to a full socket buffer loses the frame. Reliable delivery
repairs that; losses the middleware reports (the message-lost event, where the rmw supports it)
are counted and explained in /diagnostics.
"""
import threading
from typing import Any, Callable, List, Optional, Tuple

from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

try:  # Galactic and newer
    from rclpy.qos_overriding_options import QoSOverridingOptions
except ImportError:  # pragma: no cover - Foxy: QoS from the defaults (and deprecated parameters) only
    QoSOverridingOptions = None
try:  # Humble and newer
    from rclpy.event_handler import SubscriptionEventCallbacks
except ImportError:  # pragma: no cover
    from rclpy.qos_event import SubscriptionEventCallbacks

# "match the publishers": the middleware's name for it where it has one
AUTO = getattr(ReliabilityPolicy, "BEST_AVAILABLE", ReliabilityPolicy.SYSTEM_DEFAULT)
REFRESH_PERIOD_S = 1.0
LOST_LOG_PERIOD_S = 10.0


def policy_name(policy: Any) -> str:
    return policy.name.lower()


def matching_reliability(publisher_policies: List[Any]) -> Tuple[Any, str]:
    """(reliability, why) for a subscription that should receive from all these publishers.

    Reliable only when every publisher is reliable (a reliable subscription does not match a
    best-effort publisher); with no publisher yet, best effort, which matches any that comes.
    """
    reliable = sum(1 for p in publisher_policies if p == ReliabilityPolicy.RELIABLE)
    if not publisher_policies:
        return ReliabilityPolicy.BEST_EFFORT, "no publisher yet"
    if reliable == len(publisher_policies):
        return ReliabilityPolicy.RELIABLE, "{} reliable publisher(s)".format(reliable)
    if reliable:
        return ReliabilityPolicy.BEST_EFFORT, "publishers mix reliable ({}) and best effort ({})".format(
            reliable, len(publisher_policies) - reliable)
    return ReliabilityPolicy.BEST_EFFORT, "{} best-effort publisher(s)".format(len(publisher_policies))


def default_profile(reliability: str, depth: int) -> QoSProfile:
    """The profile the QoS override parameters start from ("" / 0: not given)."""
    policy = {"reliable": ReliabilityPolicy.RELIABLE, "best_effort": ReliabilityPolicy.BEST_EFFORT}.get(
        reliability, AUTO)
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth or 1, reliability=policy)


class InputSubscription(object):
    """One input topic's subscription, re-created when the matching reliability changes."""

    def __init__(self, node: Any, msg_type: Any, topic: str, callback: Callable[[Any], None],
                 profile: QoSProfile, on_lost: Optional[Callable[[int], None]] = None) -> None:
        self.node, self.msg_type, self.callback = node, msg_type, callback
        self.on_lost = on_lost
        self.lost = 0
        self.incompatible = 0
        self._lock = threading.Lock()
        options = QoSOverridingOptions.with_default_policies() if QoSOverridingOptions is not None else None
        # the override parameters are applied to ``profile`` in place (declared on the first call)
        self.subscription = self._create(topic, profile, options)
        self.topic = self.subscription.topic_name
        self.profile = profile
        self.auto = profile.reliability == AUTO
        self.why = "qos_overrides" if not self.auto else ""
        if self.auto:
            self.refresh()

    def _create(self, topic: str, profile: QoSProfile, options: Any) -> Any:
        try:
            events = SubscriptionEventCallbacks(message_lost=self._on_message_lost,
                                                incompatible_qos=self._on_incompatible_qos)
        except TypeError:  # pragma: no cover - Foxy: no message-lost event
            events = SubscriptionEventCallbacks(incompatible_qos=self._on_incompatible_qos)
        kwargs = {"event_callbacks": events}
        if options is not None:
            kwargs["qos_overriding_options"] = options
        return self.node.create_subscription(self.msg_type, topic, self.callback, profile, **kwargs)

    @property
    def reliability(self) -> Any:
        return self.subscription.qos_profile.reliability

    def describe(self) -> str:
        """e.g. 'reliable, depth 1 (best_available: 1 reliable publisher(s))'."""
        text = "{}, depth {}".format(policy_name(self.reliability), self.profile.depth)
        return text + (" ({}: {})".format(policy_name(AUTO), self.why) if self.auto else " (qos_overrides)")

    def refresh(self) -> Optional[str]:
        """In the matching mode, follow the publishers; a log line when the subscription changed."""
        if not self.auto:
            return None
        policies = [info.qos_profile.reliability for info in self.node.get_publishers_info_by_topic(self.topic)]
        wanted, self.why = matching_reliability(policies)
        current = self.subscription.qos_profile.reliability
        if wanted == current:
            return None
        profile = QoSProfile(history=self.profile.history, depth=self.profile.depth, reliability=wanted)
        old = self.subscription
        self.subscription = self._create(self.topic, profile, None)
        self.node.destroy_subscription(old)
        return "input {}: subscribed {} ({})".format(self.topic, policy_name(wanted), self.why)

    def _on_message_lost(self, info: Any) -> None:
        change = int(info.total_count_change)
        with self._lock:
            self.lost += change
        if self.on_lost is not None and change > 0:
            self.on_lost(change)

    def _on_incompatible_qos(self, info: Any) -> None:
        with self._lock:
            self.incompatible += 1
        self.node.get_logger().warning(
            "a publisher on {} offers a QoS incompatible with this subscription ({}), no frames from it: check "
            "the qos_overrides parameters".format(self.topic, self.describe()),
            throttle_duration_sec=LOST_LOG_PERIOD_S)

"""Tracks: people -> stable ids across frames (``PersonTracker``), in small parts: ``clock``,
``motion`` (filter), ``state``, ``similarity``, ``smoothing`` and the ``tracker`` that
associates them frame by frame."""
from . import motion, similarity
from .state import TRACK_ID_NONE
from .tracker import PARAMETER_NAMES, PersonTracker, TrackedPeople, TrackerConfig

__all__ = ["motion", "similarity", "PARAMETER_NAMES", "TRACK_ID_NONE", "PersonTracker", "TrackedPeople",
           "TrackerConfig"]

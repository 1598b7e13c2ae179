"""image -> tensor -> network -> heatmaps -> people, with the time each stage took.

This is the one place these stages are chained; the CLI calls ``PoseEstimator.estimate``, the
ROS node and the bag analyser through ``frame_processor.FrameProcessor`` (which adds the
selection, tracking and 3D).
"""
import threading
import time
from typing import Dict, NamedTuple, Optional, Tuple

import numpy as np

from ..backends import Backend, check_finite, create_backend
from ..common.people import People
from ..decoding import DecoderConfig, decode, decoder_status
from ..image.preprocess import Preprocessor, flip_tensor


class StageTimings(NamedTuple):
    preprocess_ms: float
    inference_ms: float
    decode_ms: float

    @property
    def total_ms(self) -> float:
        return self.preprocess_ms + self.inference_ms + self.decode_ms


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


class PoseEstimator(object):
    """Runs one model on BGR frames and returns people in source-image pixels, on the image."""

    def __init__(self, backend: Backend, flip_test: bool = False, resize: str = "letterbox",
                 clip_to_image: bool = True, **decoder_options: object) -> None:
        if resize == "official" and not backend.dynamic_size:
            raise ValueError(
                "{}: the official protocol runs the network on non-square inputs, but this model has a fixed "
                "input size; export it with `litepose export --dynamic-size` (or evaluate the .pth checkpoint), "
                "or use --protocol robot".format(backend.model_path))
        self.backend = backend
        self.metadata = backend.metadata
        self.flip_test = flip_test
        self.clip_to_image = clip_to_image
        self.preprocess = Preprocessor(self.metadata, resize)
        self._lock = threading.Lock()
        self._decoder = DecoderConfig.from_keypoint_set(self.metadata.keypoint_set(), **decoder_options)
        # the compiled decoder core, or the numpy reference with a warning where it is not built
        self.decoder_name, self.decoder_warning = decoder_status()

    @classmethod
    def from_model(
        cls, model_path: str, backend: str = "auto", threads: int = 0, flip_test: bool = False,
        backend_options: Optional[Dict[str, object]] = None, resize: str = "letterbox", clip_to_image: bool = True,
        **decoder_options: object
    ) -> "PoseEstimator":
        """``backend_options`` go to the backend (e.g. ``xnnpack`` for tflite); the rest to the decoder."""
        return cls(create_backend(model_path, backend, threads=threads, **(backend_options or {})),
                   flip_test=flip_test, resize=resize, clip_to_image=clip_to_image, **decoder_options)

    @property
    def decoder_config(self) -> DecoderConfig:
        return self._decoder

    def update_decoder(self, **changes: object) -> DecoderConfig:
        """Replace decoder settings (e.g. thresholds) between frames; safe from another thread."""
        with self._lock:
            self._decoder = self._decoder._replace(**changes)
            return self._decoder

    def estimate(self, image: np.ndarray) -> Tuple[People, StageTimings]:
        start = time.perf_counter()
        tensor, box = self.preprocess(image)
        preprocess_ms = _ms_since(start)

        start = time.perf_counter()
        outputs = self.backend.run(tensor)
        flipped = self.backend.run(flip_tensor(tensor)) if self.flip_test else None
        inference_ms = _ms_since(start)
        names = self.metadata.output_names
        check_finite(outputs + (flipped or ()), list(names) * 2)  # NonFiniteOutput: no people is not the answer

        start = time.perf_counter()
        people = box.people_to_source(decode(outputs, self._decoder, flipped_outputs=flipped))
        if self.clip_to_image:
            people = people.clipped_to_image(box.source_width, box.source_height)
        decode_ms = _ms_since(start)
        return people, StageTimings(preprocess_ms, inference_ms, decode_ms)

    def describe(self) -> str:
        return "{}; {} resize, flip test {}, heatmaps decoded at {} resolution by the {} decoder".format(
            self.backend.describe(), self.preprocess.resize, "on" if self.flip_test else "off",
            "input" if self._decoder.project_to_input else "stride-2", self.decoder_name,
        )

    def close(self) -> None:
        self.backend.close()

"""Camera messages (sensor_msgs Image / CompressedImage) -> validated HxWx3 uint8 BGR arrays.

The one image decoder of the package: the ROS node and ``litepose bag analyze`` both call it
with their message objects (rclpy or rosbags; only the field names matter), so they accept the
same encodings and reject the same frames with the same reasons. Pure: numpy and OpenCV only.

Every size is checked before a buffer is interpreted or a compressed frame is decoded, so a
broken or hostile frame raises ``BadImage`` (its text is short and the same for every frame
with the same fault, so callers can count by it) and never allocates absurd amounts of memory.
"""
import os
import re
import struct
import tempfile
import threading
from typing import Any, NamedTuple, Optional, Tuple

import cv2
import numpy as np

from .preprocess import MAX_PIXELS, as_bgr8

# A compressed frame larger than this is not a camera frame (64 MiB).
MAX_COMPRESSED_BYTES = 1 << 26
# A compressed frame may claim at most this many pixels per byte of its data (beyond
# MIN_CHECKED_PIXELS). Huffman-coded JPEG cannot exceed 512 (at least one bit per 8x8 block) and
# 8-bit PNG about 1032 (deflate's limit), so real frames pass; a 700-byte file that claims
# 8000x8000 pixels (a decompression bomb) does not.
MAX_PIXELS_PER_BYTE = 2048
MIN_CHECKED_PIXELS = 1 << 20
# Huffman-coded JPEG spends at least one bit on every 8x8 block (its DC code), so a stream
# claiming more than 512 pixels per byte of the whole file cannot hold its pixels: libjpeg
# would invent them (grey) with only a warning. Checked for every size.
MAX_HUFFMAN_JPEG_PIXELS_PER_BYTE = 512
# Compressed frames are decoded in full (OpenCV decodes PNG whole even when asked to reduce),
# so their size bounds the memory and time one frame may cost: 16.7 megapixels (4096x4096,
# 48 MiB decoded) covers every camera stream; MAX_PIXELS (raw frames) would allow 192 MiB and
# seconds of decoding for a 200 KB PNG.
MAX_COMPRESSED_PIXELS = 1 << 24


class BadImage(ValueError):
    """A frame that cannot be used; str() says why."""


class Encoding(NamedTuple):
    channels: int
    bytes_per_channel: int  # 2: 16-bit, of which the most significant byte is kept
    to_bgr: Optional[int]  # cv2.cvtColor code, None when already BGR


# sensor_msgs/image_encodings names (matched without regard to case) -> layout.
ENCODINGS = {
    "bgr8": Encoding(3, 1, None),
    "8uc3": Encoding(3, 1, None),  # assumed BGR, as cv_bridge does
    "rgb8": Encoding(3, 1, cv2.COLOR_RGB2BGR),
    "bgra8": Encoding(4, 1, cv2.COLOR_BGRA2BGR),
    "rgba8": Encoding(4, 1, cv2.COLOR_RGBA2BGR),
    "mono8": Encoding(1, 1, cv2.COLOR_GRAY2BGR),
    "8uc1": Encoding(1, 1, cv2.COLOR_GRAY2BGR),
    "mono16": Encoding(1, 2, cv2.COLOR_GRAY2BGR),
    "bgr16": Encoding(3, 2, None),
    "rgb16": Encoding(3, 2, cv2.COLOR_RGB2BGR),
    # ROS names a Bayer pattern by its first row, OpenCV by its second.
    "bayer_rggb8": Encoding(1, 1, cv2.COLOR_BayerBG2BGR),
    "bayer_bggr8": Encoding(1, 1, cv2.COLOR_BayerRG2BGR),
    "bayer_gbrg8": Encoding(1, 1, cv2.COLOR_BayerGR2BGR),
    "bayer_grbg8": Encoding(1, 1, cv2.COLOR_BayerGB2BGR),
    # Byte order U Y0 V Y1 (ROS' "yuv422" is UYVY) and Y0 U Y1 V.
    "uyvy": Encoding(2, 1, cv2.COLOR_YUV2BGR_UYVY),
    "yuv422": Encoding(2, 1, cv2.COLOR_YUV2BGR_UYVY),
    "yuyv": Encoding(2, 1, cv2.COLOR_YUV2BGR_YUYV),
    "yuv422_yuy2": Encoding(2, 1, cv2.COLOR_YUV2BGR_YUYV),
}  # type: Dict[str, Encoding]

ACCEPTED = ", ".join(ENCODINGS)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers (baseline, extended, progressive, lossless; Huffman and arithmetic).
_JPEG_SOF = frozenset([0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF])
_JPEG_ARITHMETIC_SOF = frozenset([0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF])
_EOI_SEARCH_BYTES = 64  # how far before the end of the data the end-of-image marker may be
_JPEG_STANDALONE = frozenset([0x01, 0xD0, 0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7])


def image_to_bgr(msg: Any) -> np.ndarray:
    """sensor_msgs/Image -> BGR. 8-bit BGR frames come back as a view of ``msg.data`` (no copy)."""
    return raw_to_bgr(str(msg.encoding), int(msg.width), int(msg.height), int(msg.step),
                      bool(msg.is_bigendian), msg.data)


def raw_to_bgr(encoding: str, width: int, height: int, step: int, big_endian: bool, data: Any) -> np.ndarray:
    layout = ENCODINGS.get(encoding.lower())
    if layout is None:
        raise BadImage("unsupported encoding '{}' (accepted: {})".format(encoding, ACCEPTED))
    _check_size(width, height)
    row_bytes = width * layout.channels * layout.bytes_per_channel
    if step < row_bytes:
        raise BadImage("step {} is shorter than a {}-pixel {} row ({} bytes)".format(step, width, encoding, row_bytes))
    buffer = _as_uint8(data)
    if buffer.size < step * (height - 1) + row_bytes:
        raise BadImage("truncated image: data shorter than height x step ({}x{} {})".format(width, height, encoding))
    rows = np.lib.stride_tricks.as_strided(buffer, shape=(height, row_bytes), strides=(step, 1))
    if layout.bytes_per_channel == 2:  # keep the most significant byte: where it is depends on byte order
        rows = rows[:, (0 if big_endian else 1)::2]
    pixels = rows.reshape(height, width, layout.channels) if layout.channels > 1 else rows
    if layout.to_bgr is None:
        return pixels
    if layout.channels == 2 and width % 2:
        raise BadImage("{} image of odd width {} (pixels come in pairs)".format(encoding, width))
    try:
        return cv2.cvtColor(np.ascontiguousarray(pixels), layout.to_bgr)
    except cv2.error:  # OpenCV refuses a shape it cannot convert: a bad frame, not a crash
        raise BadImage("OpenCV cannot convert a {}x{} {} image".format(width, height, encoding)) from None


def compressed_to_bgr(msg: Any) -> np.ndarray:
    """sensor_msgs/CompressedImage (JPEG or PNG) -> BGR; 16-bit PNGs keep their upper 8 bits."""
    return compressed_data_to_bgr(str(msg.format), msg.data)


def compressed_data_to_bgr(fmt: str, data: Any) -> np.ndarray:
    _check_compressed_format(fmt)
    buffer = _as_uint8(data)
    if buffer.size == 0:
        raise BadImage("empty compressed image")
    if buffer.size > MAX_COMPRESSED_BYTES:
        raise BadImage("compressed image over {} bytes".format(MAX_COMPRESSED_BYTES))
    kind, width, height = compressed_header(buffer)
    _check_compressed_size(buffer, kind, width, height)
    if kind == "PNG":
        image = _imdecode(buffer)
    else:
        image, warning = _imdecode_jpeg(buffer)
        if warning and image is not None:
            raise BadImage("corrupt JPEG data ({})".format(warning))
    if image is None:
        raise BadImage("cannot decode {} image: corrupt or truncated".format(_family(kind)))
    return _checked(image)


def _check_compressed_size(buffer: np.ndarray, kind: str, width: int, height: int) -> None:
    """Everything the header tells before decoding: size limits and decompression bombs."""
    _check_size(width, height)
    family = _family(kind)
    if width * height > MAX_COMPRESSED_PIXELS:
        raise BadImage("{} of {}x{} exceeds the {} pixel limit for compressed frames".format(
            family, width, height, MAX_COMPRESSED_PIXELS))
    if width * height > max(MIN_CHECKED_PIXELS, MAX_PIXELS_PER_BYTE * buffer.size):
        raise BadImage("{} header claims {}x{} pixels, too many for its size (decompression bomb?)".format(
            family, width, height))
    if kind == "JPEG" and width * height > MAX_HUFFMAN_JPEG_PIXELS_PER_BYTE * buffer.size:
        raise BadImage("JPEG header claims {}x{} pixels, more than its {} bytes can hold (corrupt header)".format(
            width, height, buffer.size))
    if family == "JPEG" and not _ends_with_eoi(buffer):
        # OpenCV up to 4.2 (JetPack 4.6) feeds libjpeg a made-up end marker without any warning
        raise BadImage("cannot decode JPEG image: corrupt or truncated (no end-of-image marker)")


def _ends_with_eoi(buffer: np.ndarray) -> bool:
    """The end-of-image marker (FF D9) within the last bytes, after padding some encoders add.
    Entropy-coded data never holds FF D9 (a data FF is followed by 00 or a restart marker)."""
    tail = bytes(memoryview(buffer)[-_EOI_SEARCH_BYTES:])
    return b"\xff\xd9" in tail


def _family(kind: str) -> str:
    return "JPEG" if kind.startswith("JPEG") else kind


def _imdecode(buffer: np.ndarray) -> Optional[np.ndarray]:
    try:
        return cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    except cv2.error:
        return None


_stderr_lock = threading.Lock()
_stderr_capture = None  # type: Optional[Any]  # a temporary file, opened on first use


def _imdecode_jpeg(buffer: np.ndarray) -> Tuple[Optional[np.ndarray], str]:
    """Decode with libjpeg's warnings captured: (image or None, the first warning or "").

    libjpeg writes "Corrupt JPEG data: ..." to the process' stderr (one line per frame, that
    no one can throttle) and then returns an image with invented pixels. File descriptor 2 is
    pointed at a temporary file for the decode; anything there that is not libjpeg's (another
    thread logging meanwhile) is written on to the real stderr.
    """
    global _stderr_capture
    with _stderr_lock:
        try:
            if _stderr_capture is None:
                _stderr_capture = tempfile.TemporaryFile()
            capture = _stderr_capture
            capture.seek(0)
            capture.truncate()
            saved = os.dup(2)
        except OSError:  # no fd to spare: decode as is
            return _imdecode(buffer), ""
        try:
            os.dup2(capture.fileno(), 2)
            image = _imdecode(buffer)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        text = capture.read().decode("utf-8", "replace")
    warnings = [line for line in text.splitlines() if _LIBJPEG_CORRUPT.search(line)]
    others = [line for line in text.splitlines() if line and not _LIBJPEG_ANY.search(line)]
    if others:
        os.write(2, ("\n".join(others) + "\n").encode("utf-8", "replace"))
    return image, _same_for_same_fault(warnings[0]) if warnings else ""


# libjpeg(-turbo)'s warnings (jerror.h JWRN_*): those that mean pixels were invented or lost,
# and the harmless ones (an unknown JFIF revision), which are dropped without a word.
_LIBJPEG_CORRUPT = re.compile(r"Corrupt JPEG data|Premature end of JPEG file|Inconsistent progression|"
                              r"Invalid SOS parameters")
_LIBJPEG_ANY = re.compile(_LIBJPEG_CORRUPT.pattern + r"|unknown JFIF revision|Unknown Adobe color transform|"
                          r"transferred too many scanlines")


def _same_for_same_fault(warning: str) -> str:
    """libjpeg's words with the counts taken out, so frames with one fault give one reason."""
    text = re.sub(r"^Corrupt JPEG data: ", "", warning.strip())
    return re.sub(r"\b\d+\b", "N", re.sub(r"0x[0-9a-fA-F]+", "0xNN", text))


def compressed_header(data: np.ndarray) -> Tuple[str, int, int]:
    """("JPEG" or "PNG", width, height) from the file header, without decoding pixels.
    Arithmetic-coded JPEG (rare) is "JPEG (arithmetic)": it may hold more pixels per byte."""
    view = memoryview(data)
    if bytes(view[:8]) == _PNG_SIGNATURE:
        if data.size < 24 or bytes(view[12:16]) != b"IHDR":
            raise BadImage("corrupt PNG header")
        width, height = struct.unpack_from(">II", view, 16)
        return "PNG", width, height
    if bytes(view[:2]) == b"\xff\xd8":
        width, height, marker = _jpeg_size(view)
        return "JPEG (arithmetic)" if marker in _JPEG_ARITHMETIC_SOF else "JPEG", width, height
    raise BadImage("compressed image is neither JPEG nor PNG")


def _jpeg_size(view: memoryview) -> Tuple[int, int, int]:
    """Walk the marker segments up to the frame header (SOFn)."""
    position, end = 2, len(view)
    while position + 4 <= end:
        if view[position] != 0xFF:
            break
        marker = view[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in _JPEG_STANDALONE:
            position += 2
            continue
        length = (view[position + 2] << 8) | view[position + 3]
        if marker in _JPEG_SOF:
            if length < 8 or position + 9 > end:
                break
            height = (view[position + 5] << 8) | view[position + 6]
            width = (view[position + 7] << 8) | view[position + 8]
            return width, height, marker
        if marker in (0xD9, 0xDA) or length < 2:  # end of image or scan data before any frame header
            break
        position += 2 + length
    raise BadImage("corrupt JPEG header")


def _check_compressed_format(fmt: str) -> None:
    """compressed_image_transport writes "<encoding>; <jpeg|png> compressed <target>": the source
    encoding must be one we accept (depth images, 16UC1 and 32FC1, are not camera frames)."""
    lowered = fmt.lower()
    if "compresseddepth" in lowered:
        raise BadImage("unsupported compressed format '{}' (depth image)".format(fmt))
    if ";" in lowered:
        encoding = lowered.split(";", 1)[0].strip()
        if encoding and encoding not in ENCODINGS:
            raise BadImage("unsupported encoding '{}' in compressed format '{}' (accepted: {})".format(
                fmt.split(";", 1)[0].strip(), fmt, ACCEPTED))


def _check_size(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise BadImage("empty image ({}x{})".format(width, height))
    if width * height > MAX_PIXELS:
        raise BadImage("image of {}x{} exceeds the {} pixel limit".format(width, height, MAX_PIXELS))


def _as_uint8(data: Any) -> np.ndarray:
    """The message's byte buffer as a flat uint8 array, without copying where possible."""
    if isinstance(data, np.ndarray):
        return data.reshape(-1).view(np.uint8) if data.dtype.itemsize == 1 else np.asarray(data, np.uint8).reshape(-1)
    try:
        return np.frombuffer(data, np.uint8)
    except (TypeError, ValueError):  # a plain list of ints
        return np.asarray(data, np.uint8).reshape(-1)


def _checked(image: np.ndarray) -> np.ndarray:
    try:
        return as_bgr8(image)
    except ValueError as error:
        raise BadImage(str(error)) from None

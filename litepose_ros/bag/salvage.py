"""What is intact of an MCAP file that ends early (a recorder killed, a disk that filled up).

A complete MCAP file ends with a summary section and a footer that readers start from; a cut
file has neither and ``rosbags`` refuses it. Its data section, though, is a plain sequence of
records, and every chunk carries its own length, compression and CRC: reading from the start
and stopping at the first record that is incomplete or fails its check recovers every message
written before the cut. ``SalvagedMcap`` offers the few reader methods the bag tools use
(``connections``, ``messages``, ``start_time``, ``close``) over those records.

Record layouts follow the MCAP specification (https://mcap.dev/spec), little-endian.
"""
import struct
import zlib
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

MAGIC = b"\x89MCAP0\r\n"
OP_FOOTER, OP_SCHEMA, OP_CHANNEL, OP_MESSAGE, OP_CHUNK, OP_DATA_END = 0x02, 0x03, 0x04, 0x05, 0x06, 0x0F
MAX_TIME = 2 ** 63 - 1
_RECORD_HEADER = struct.Struct("<BQ")
_CHUNK_HEADER = struct.Struct("<QQQI")  # message start and end time, uncompressed size, CRC
_MESSAGE_HEADER = struct.Struct("<HIQQ")  # channel id, sequence, log time, publish time


class SalvageError(ValueError):
    """Nothing could be recovered; str() says why."""


def _string(data: bytes, offset: int) -> Tuple[str, int]:
    (length,) = struct.unpack_from("<I", data, offset)
    end = offset + 4 + length
    if end > len(data):
        raise SalvageError("string runs past its record")
    return data[offset + 4:end].decode("utf-8", "replace"), end


def _decompress(data: bytes, compression: str, size: int) -> bytes:
    if compression == "":
        return data
    if compression == "zstd":
        try:
            from compression import zstd  # Python 3.14
        except ImportError:
            from backports import zstd  # what rosbags installs before 3.14
        return zstd.decompress(data)
    if compression == "lz4":
        from lz4.frame import decompress

        return decompress(data)
    raise SalvageError("unknown chunk compression {!r}".format(compression))


class SalvagedMcap(object):
    """The intact records of a (cut) MCAP file, as a read-only bag reader."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._file = open(str(self.path), "rb")
        self.size = self.path.stat().st_size
        self._schemas: Dict[int, Tuple[str, str, str]] = {}  # id -> (name, encoding, definition)
        self._channels: Dict[int, Tuple[str, int, str]] = {}  # id -> (topic, schema id, encoding)
        self._counts: Dict[int, int] = {}
        self._records: List[int] = []  # offsets of top-level records that hold messages
        self.start_time = MAX_TIME
        self.complete_at: Optional[int] = None  # bytes read before the cut
        self.truncation: Optional[str] = None
        try:
            self._scan()
        except BaseException:
            self._file.close()
            raise
        self.connections = self._connections()

    def _scan(self) -> None:
        if self._file.read(len(MAGIC)) != MAGIC:
            self._file.close()
            raise SalvageError("not an MCAP file (no magic bytes)")
        offset, chunks = len(MAGIC), 0
        while True:
            record = self._read_record(offset)
            if record is None:
                break
            opcode, body = record
            if opcode in (OP_DATA_END, OP_FOOTER):  # the data section ended properly
                break
            try:
                found = self._note(opcode, body)
            except (SalvageError, struct.error, zlib.error, ValueError, RuntimeError) as error:
                self.truncation = "MCAP record at byte {} of {} is damaged ({}); read the {} records before it".format(
                    offset, self.size, error, chunks)
                break
            if found:
                self._records.append(offset)
                chunks += 1
            offset += _RECORD_HEADER.size + len(body)
        if self.truncation is None and self.complete_at is not None:
            self.truncation = "MCAP file ends mid-record at byte {} of {} (cut off: recorder crash or full disk?); " \
                              "read the {} intact chunks before it".format(self.complete_at, self.size, chunks)
        if self.truncation and not chunks:
            self.truncation = self.truncation.split("; read the")[0] + "; no chunk before it is whole"

    def _read_record(self, offset: int) -> Optional[Tuple[int, bytes]]:
        """(opcode, body) of the record at ``offset``; None at a cut (complete_at set) or the end."""
        self._file.seek(offset)
        head = self._file.read(_RECORD_HEADER.size)
        if not head:
            self.complete_at = offset
            return None
        if len(head) < _RECORD_HEADER.size:
            self.complete_at = offset
            return None
        opcode, length = _RECORD_HEADER.unpack(head)
        if offset + _RECORD_HEADER.size + length > self.size:
            self.complete_at = offset
            return None
        return opcode, self._file.read(length)

    def _note(self, opcode: int, body: bytes) -> bool:
        """Learn schemas, channels and message counts from a record; True if it holds messages."""
        if opcode == OP_CHUNK:
            return self._note_records(self._chunk_records(body)) > 0
        return self._note_records([(opcode, body)]) > 0

    def _note_records(self, records: Sequence[Tuple[int, bytes]]) -> int:
        messages = 0
        for opcode, body in records:
            if opcode == OP_SCHEMA:
                (schema_id,) = struct.unpack_from("<H", body, 0)
                name, position = _string(body, 2)
                encoding, position = _string(body, position)
                (length,) = struct.unpack_from("<I", body, position)
                definition = body[position + 4:position + 4 + length].decode("utf-8", "replace")
                self._schemas[schema_id] = (name, encoding, definition)
            elif opcode == OP_CHANNEL:
                channel_id, schema_id = struct.unpack_from("<HH", body, 0)
                topic, position = _string(body, 4)
                encoding, _ = _string(body, position)
                self._channels[channel_id] = (topic, schema_id, encoding)
            elif opcode == OP_MESSAGE:
                channel_id, _, log_time, _ = _MESSAGE_HEADER.unpack_from(body, 0)
                self._counts[channel_id] = self._counts.get(channel_id, 0) + 1
                self.start_time = min(self.start_time, log_time)
                messages += 1
        return messages

    def _chunk_records(self, body: bytes) -> List[Tuple[int, bytes]]:
        """The records inside a chunk, after checking its size and CRC."""
        _, _, size, crc = _CHUNK_HEADER.unpack_from(body, 0)
        compression, position = _string(body, _CHUNK_HEADER.size)
        (length,) = struct.unpack_from("<Q", body, position)
        data = body[position + 8:position + 8 + length]
        if len(data) != length:
            raise SalvageError("chunk data runs past its record")
        raw = _decompress(data, compression, size)
        if len(raw) != size or (crc and zlib.crc32(raw) & 0xFFFFFFFF != crc):
            raise SalvageError("chunk fails its size or CRC check")
        records, offset = [], 0
        while offset + _RECORD_HEADER.size <= len(raw):
            opcode, length = _RECORD_HEADER.unpack_from(raw, offset)
            start = offset + _RECORD_HEADER.size
            if start + length > len(raw):
                raise SalvageError("record runs past its chunk")
            records.append((opcode, raw[start:start + length]))
            offset = start + length
        return records

    def _connections(self) -> List[Any]:
        from rosbags.interfaces import (
            Connection,
            ConnectionExtRosbag2,
            MessageDefinition,
            MessageDefinitionFormat,
        )

        formats = {"ros2msg": MessageDefinitionFormat.MSG, "ros2idl": MessageDefinitionFormat.IDL,
                   "omgidl": MessageDefinitionFormat.IDL}
        connections = []
        for channel_id, (topic, schema_id, encoding) in sorted(self._channels.items()):
            name, schema_encoding, definition = self._schemas.get(schema_id, ("", "", ""))
            msgdef = MessageDefinition(formats.get(schema_encoding, MessageDefinitionFormat.NONE), definition)
            connections.append(Connection(channel_id, topic, name, msgdef, "", self._counts.get(channel_id, 0),
                                          ConnectionExtRosbag2(encoding, []), self))
        return connections

    def messages(self, connections: Sequence[Any] = (), start: Optional[int] = None,
                 stop: Optional[int] = None) -> Iterator[Tuple[Any, int, bytes]]:
        """(connection, log time, serialized message), in file order (time order within a chunk)."""
        wanted = {c.id: c for c in (connections or self.connections)}
        low, high = (0 if start is None else start), (MAX_TIME if stop is None else stop)
        for offset in self._records:
            record = self._read_record(offset)
            if record is None:
                return
            opcode, body = record
            records = self._chunk_records(body) if opcode == OP_CHUNK else [(opcode, body)]
            found = []
            for inner, content in records:
                if inner != OP_MESSAGE:
                    continue
                channel_id, _, log_time, _ = _MESSAGE_HEADER.unpack_from(content, 0)
                if channel_id in wanted and low <= log_time < high:
                    found.append((log_time, channel_id, content[_MESSAGE_HEADER.size:]))
            for log_time, channel_id, data in sorted(found, key=lambda item: item[0]):
                yield wanted[channel_id], log_time, data

    def close(self) -> None:
        self._file.close()


def salvage(path: Path) -> Optional[SalvagedMcap]:
    """The intact part of the one .mcap file at ``path`` (a file or a bag directory); None if
    there is no single MCAP file; SalvageError (why) if no message in it is intact."""
    path = Path(path)
    files = [path] if path.is_file() else sorted(path.glob("*.mcap")) if path.is_dir() else []
    if len(files) != 1 or files[0].suffix != ".mcap":
        return None
    try:
        salvaged = SalvagedMcap(files[0])
    except (OSError, SalvageError):
        return None
    if not any(c.msgcount for c in salvaged.connections):
        salvaged.close()
        raise SalvageError(salvaged.truncation or "no messages")
    return salvaged

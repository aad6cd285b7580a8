"""Voicemail audio: decode Twilio's WAV, measure the voice, trim and normalise, encode for storage.

Twilio delivers recordings as 8 kHz mono 16-bit PCM WAV, which pydub reads without ffmpeg. The
measures come from 20 ms frames of the raw samples (audioop works on them in C), so a 10-minute
message is analysed in a few tens of milliseconds:

- level of each frame in dBFS; the noise floor is the 10th percentile of frame levels;
- a frame is speech when it is above max(absolute floor, noise floor + margin);
- leading and trailing non-speech is trimmed (a little padding kept so no word is clipped);
- loudness is the energy mean of speech frames, its spread the standard deviation of their
  levels; both are measured before normalisation, since they describe the caller's voice;
- a speech burst is a rise of the smoothed level by `burst_dip_db` out of a valley: roughly a
  syllable nucleus, so bursts per minute track how fast the caller speaks;
- no speech at all (or too little to be words) makes the message "empty".

Storage uses MP3 through the ffmpeg binary shipped by `imageio-ffmpeg`; see `encode`.
"""

from __future__ import annotations

import io
import math
import struct
import subprocess
import warnings
from dataclasses import asdict, dataclass

import imageio_ffmpeg

# pydub is imported here and nowhere else. Importing it warns, and the test run turns every
# warning into an error: it looks for ffmpeg on PATH (RuntimeWarning; we set the converter just
# below), it imports the stdlib audioop deprecated since 3.11 (DeprecationWarning; Python 3.13
# gets the audioop-lts package instead), and on a first import its source has invalid escape
# sequences (DeprecationWarning on 3.11, SyntaxWarning from 3.12). Only these are silenced.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Couldn't find ffmpeg", RuntimeWarning)
    warnings.filterwarnings("ignore", ".*audioop.*", DeprecationWarning)
    warnings.filterwarnings("ignore", "invalid escape sequence", DeprecationWarning)
    warnings.filterwarnings("ignore", "invalid escape sequence", SyntaxWarning)
    import audioop

    from pydub import AudioSegment
    from pydub.exceptions import CouldntDecodeError

# Everything a damaged WAV header or body has been seen to raise while being read.
_DECODE_ERRORS = (
    CouldntDecodeError,
    ValueError,
    IndexError,
    KeyError,
    EOFError,
    struct.error,
    audioop.error,
)

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
AudioSegment.converter = FFMPEG

# MP3 rather than Opus: the agent hears a message through Twilio's <Play> and supervisors in a
# browser, and both play MP3 everywhere while Twilio's <Play> does not take Ogg/Opus. On this
# ffmpeg build libmp3lame also encodes 8 kHz speech about 4x faster than libopus (0.3 s against
# 0.9-2 s for three minutes), which is what keeps a worker above 100 messages a minute. 32 kbps
# at 8 kHz (MPEG-2.5 layer III) keeps narrowband phone speech fully intelligible at 240 KB per
# minute; a lower rate would save little and blur consonants callers may need to be heard on.
STORAGE_FORMAT = "mp3"
STORAGE_CODEC = "mp3"
STORAGE_ENCODER = "libmp3lame"
STORAGE_BITRATE_KBPS = 32
# Sample rates MP3 can carry; anything else is resampled to 16 kHz on encoding.
_MP3_RATES = frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000})

FRAME_MS = 20
# Sample rates a recording may have: below 4 kHz is no speech, above 192 kHz no WAV in use.
MIN_RATE = 4000
MAX_RATE = 192_000
SILENT_DBFS = -120.0
_FULL_SCALE = 32768.0


class AudioError(Exception):
    """Audio that cannot be decoded or encoded."""


class CorruptAudio(AudioError):
    """A recording whose bytes are not a readable WAV file."""


@dataclass(frozen=True)
class Detection:
    """Thresholds for telling speech from silence and counting speech bursts."""

    absolute_floor_dbfs: float = -45.0
    noise_margin_db: float = 10.0
    padding_ms: int = 250
    min_speech_ms: int = 300
    burst_dip_db: float = 4.0
    min_burst_ms: int = 40
    target_dbfs: float = -20.0
    peak_ceiling_dbfs: float = -1.0


@dataclass(frozen=True)
class Measures:
    """What the voice in a message sounds like, measured on its raw samples."""

    duration_s: float
    trimmed_s: float
    speech_s: float
    speech_share: float
    loudness_dbfs: float
    loudness_spread_db: float
    bursts_per_min: float
    peak_dbfs: float
    noise_dbfs: float
    gain_db: float
    empty: bool

    def as_fields(self) -> dict[str, str]:
        """Return the measures as strings for a Redis hash."""
        return {name: _field(value) for name, value in asdict(self).items()}

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> Measures | None:
        """Rebuild measures from a Redis hash, or None when they were never stored."""
        if "duration_s" not in fields:
            return None
        values: dict[str, object] = {}
        for name, kind in cls.__annotations__.items():
            raw = fields.get(name, "0")
            values[name] = raw == "1" if kind == "bool" else float(raw)
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Analysis:
    """A decoded message: its measures and the trimmed, normalised audio to keep."""

    measures: Measures
    audio: AudioSegment


def _field(value: object) -> str:
    """Format one measure for storage."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


# ---------------------------------------------------------------------------- decoding


def decode_wav(data: bytes) -> AudioSegment:
    """Read WAV bytes into 16-bit mono audio; raise CorruptAudio when they are not a WAV."""
    if not data:
        raise CorruptAudio("recording is 0 bytes")
    try:
        # AudioSegment(data=...) parses the WAV itself; AudioSegment.from_file would fall back
        # to ffmpeg on a bad header and spend a process on bytes that are garbage anyway.
        segment = AudioSegment(data=data)
        _check_format(segment)
        # A recording cut off mid-sample still holds every whole frame before the cut.
        whole = len(segment.raw_data) - len(segment.raw_data) % segment.frame_width
        segment = segment._spawn(segment.raw_data[:whole])
        if segment.channels != 1:
            segment = segment.set_channels(1)
        if segment.sample_width != 2:
            segment = segment.set_sample_width(2)
    except _DECODE_ERRORS as error:
        raise CorruptAudio(f"not a readable WAV recording: {error!r}"[:300]) from None
    return segment


def _check_format(segment: AudioSegment) -> None:
    """Refuse a WAV header no telephone recording has (a damaged header reads as nonsense)."""
    if segment.sample_width not in (1, 2, 3, 4):
        raise CorruptAudio(f"sample width {segment.sample_width} bytes")
    if not 1 <= segment.channels <= 8:
        raise CorruptAudio(f"{segment.channels} channels")
    if not MIN_RATE <= segment.frame_rate <= MAX_RATE:
        raise CorruptAudio(f"sample rate {segment.frame_rate} Hz")


def decode_stored(data: bytes) -> AudioSegment:
    """Decode stored (MP3) audio; codec and format are named since there is no ffprobe."""
    try:
        return AudioSegment.from_file(io.BytesIO(data), format=STORAGE_FORMAT, codec=STORAGE_CODEC)
    except CouldntDecodeError as error:
        raise AudioError(f"stored audio cannot be decoded: {error}") from None


def to_wav(segment: AudioSegment) -> bytes:
    """Return audio as WAV bytes (for playback and speech-to-text), without ffmpeg."""
    out = io.BytesIO()
    segment.export(out, format="wav")
    return out.getvalue()


# ---------------------------------------------------------------------------- measuring


def frame_levels(raw: bytes, frame_bytes: int) -> list[float]:
    """Return the level of each whole frame of 16-bit samples, in dBFS."""
    view = memoryview(raw)
    rms = audioop.rms
    log10 = math.log10
    levels = []
    for start in range(0, len(raw) - frame_bytes + 1, frame_bytes):
        value = rms(view[start : start + frame_bytes], 2)
        levels.append(20.0 * log10(value / _FULL_SCALE) if value else SILENT_DBFS)
    return levels


def _percentile(sorted_values: list[float], share: float) -> float:
    """Return the value below which a share of sorted values lie."""
    index = min(len(sorted_values) - 1, max(0, int(share * len(sorted_values))))
    return sorted_values[index]


def _energy_dbfs(levels: list[float]) -> float:
    """Return the level of the mean energy of frames given in dBFS."""
    energy = sum(10.0 ** (level / 10.0) for level in levels) / len(levels)
    return 10.0 * math.log10(energy) if energy > 0 else SILENT_DBFS


def _spread(levels: list[float]) -> float:
    """Return the standard deviation of frame levels."""
    mean = sum(levels) / len(levels)
    return math.sqrt(sum((level - mean) ** 2 for level in levels) / len(levels))


def _smooth(levels: list[float]) -> list[float]:
    """Average each level with its neighbours, so one odd frame makes no burst."""
    if len(levels) < 3:
        return list(levels)
    inner = [(a + b + c) / 3.0 for a, b, c in zip(levels, levels[1:], levels[2:], strict=False)]
    return [levels[0], *inner, levels[-1]]


def count_bursts(levels: list[float], threshold: float, rules: Detection) -> int:
    """Count rises of the level out of a valley by at least the dip, lasting a minimum time."""
    min_frames = max(1, rules.min_burst_ms // FRAME_MS)
    bursts = 0
    inside = False
    peak = valley = SILENT_DBFS
    length = 0
    for level in _smooth(levels):
        if inside:
            peak = max(peak, level)
            if level < threshold or level < peak - rules.burst_dip_db:
                bursts += length >= min_frames
                inside, valley = False, level
            else:
                length += 1
        else:
            valley = min(valley, level)
            if level >= threshold and level >= valley + rules.burst_dip_db:
                inside, peak, length = True, level, 1
    if inside:
        bursts += length >= min_frames
    return bursts


def analyse(segment: AudioSegment, rules: Detection | None = None) -> Analysis:
    """Measure a message's voice, trim its leading and trailing silence and normalise it."""
    rules = rules or Detection()
    rate = segment.frame_rate
    frame_bytes = rate * FRAME_MS // 1000 * 2
    raw = segment.raw_data
    levels = frame_levels(raw, frame_bytes)
    duration_s = len(raw) / 2 / rate
    if not levels:
        return Analysis(_empty_measures(duration_s, SILENT_DBFS), segment[:0])
    noise = _percentile(sorted(levels), 0.10)
    threshold = max(rules.absolute_floor_dbfs, noise + rules.noise_margin_db)
    speech_frames = [index for index, level in enumerate(levels) if level >= threshold]
    speech_s = len(speech_frames) * FRAME_MS / 1000
    if speech_s * 1000 < rules.min_speech_ms:
        return Analysis(_empty_measures(duration_s, noise), segment[:0])
    pad = rules.padding_ms // FRAME_MS
    first = max(0, speech_frames[0] - pad)
    last = min(len(levels), speech_frames[-1] + 1 + pad)
    kept_levels = levels[first:last]
    speech_levels = [levels[index] for index in speech_frames]
    loudness = _energy_dbfs(speech_levels)
    trimmed_raw = raw[first * frame_bytes : last * frame_bytes]
    peak_raw = audioop.max(trimmed_raw, 2)
    peak = 20.0 * math.log10(peak_raw / _FULL_SCALE) if peak_raw else SILENT_DBFS
    # Bring speech to a common level for listening, never pushing peaks into clipping.
    gain = min(rules.target_dbfs - loudness, rules.peak_ceiling_dbfs - peak)
    trimmed_s = len(kept_levels) * FRAME_MS / 1000
    bursts = count_bursts(kept_levels, threshold, rules)
    measures = Measures(
        duration_s=round(duration_s, 3),
        trimmed_s=round(trimmed_s, 3),
        speech_s=round(speech_s, 3),
        speech_share=round(speech_s / trimmed_s, 3),
        loudness_dbfs=round(loudness, 2),
        loudness_spread_db=round(_spread(speech_levels), 2),
        bursts_per_min=round(bursts * 60.0 / trimmed_s, 1),
        peak_dbfs=round(peak, 2),
        noise_dbfs=round(noise, 2),
        gain_db=round(gain, 2),
        empty=False,
    )
    trimmed = segment._spawn(audioop.mul(trimmed_raw, 2, 10.0 ** (gain / 20.0)))
    return Analysis(measures, trimmed)


def _empty_measures(duration_s: float, noise: float) -> Measures:
    """Return the measures of a message without speech."""
    return Measures(
        duration_s=round(duration_s, 3),
        trimmed_s=0.0,
        speech_s=0.0,
        speech_share=0.0,
        loudness_dbfs=SILENT_DBFS,
        loudness_spread_db=0.0,
        bursts_per_min=0.0,
        peak_dbfs=SILENT_DBFS,
        noise_dbfs=round(noise, 2),
        gain_db=0.0,
        empty=True,
    )


# ---------------------------------------------------------------------------- encoding


def encode(segment: AudioSegment, *, bitrate_kbps: int = STORAGE_BITRATE_KBPS) -> bytes:
    """Encode audio as MP3 through ffmpeg's pipes, so no plaintext copy ever touches the disk."""
    rate = segment.frame_rate
    command = [
        FFMPEG,
        "-hide_banner",
        "-loglevel",
        "error",
        "-f",
        "s16le",
        "-ar",
        str(rate),
        "-ac",
        "1",
        "-i",
        "pipe:0",
        "-map_metadata",
        "-1",
        "-c:a",
        STORAGE_ENCODER,
        "-b:a",
        f"{bitrate_kbps}k",
        # LAME's fastest quality setting: at these bitrates it sounds the same on phone speech
        # and takes about a third less time than the default.
        "-compression_level",
        "9",
        "-ar",
        str(rate if rate in _MP3_RATES else 16000),
        "-f",
        STORAGE_FORMAT,
        "pipe:1",
    ]
    # pydub's export would write the audio to temporary files first: pipes keep the caller's
    # words off the disk until they are encrypted.
    completed = subprocess.run(command, input=segment.raw_data, capture_output=True, check=False)
    if completed.returncode != 0 or not completed.stdout:
        detail = completed.stderr.decode(errors="replace").strip()[-300:]
        raise AudioError(f"encoding failed (ffmpeg exit {completed.returncode}): {detail}")
    return completed.stdout

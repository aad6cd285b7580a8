"""Prosody of a caller's telephone audio: the emotion thermometer's features, pure functions.

The input is Twilio's 8 kHz G.711 mu-law. For a window of audio (two seconds on the desk) this
module measures what a listener hears as agitation, with numpy only and in a few milliseconds:
- loudness: RMS level in dBFS over the frames that carry speech (pauses do not dilute it);
- speech rate: syllable nuclei per second of window, de Jong & Wempe's way (peaks of a smoothed,
  band-limited energy envelope that stand out by a dip from their neighbours and are voiced);
- pitch: the median fundamental of voiced 40 ms frames by normalised autocorrelation (60-400 Hz),
  and its variability as the standard deviation in semitones around that median;
- pauses: the share of 20 ms frames below the silence threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RATE_HZ = 8000
# 20 ms frames for energy and pauses (a Twilio media message is one of them).
FRAME = 160
# The envelope for syllable nuclei: 20 ms frames every 10 ms, smoothed over about 50 ms.
HOP = 80
ENVELOPE_FFT = 256
# Vowel energy lives here; below is hum and the voice's fundamental, above it fricatives.
BAND_HZ = (250.0, 3000.0)
SMOOTH = np.hanning(7)[1:-1] / np.hanning(7)[1:-1].sum()
# A nucleus stands out from the envelope between it and its neighbour by at least this dip.
NUCLEUS_DIP_DB = 2.0
# Pitch: 40 ms frames every 20 ms, the lags of 60-400 Hz.
PITCH_FRAME = 320
PITCH_FFT = 512
MIN_LAG = RATE_HZ // 400
MAX_LAG = RATE_HZ // 60
# A pitch this far from the window's median is a tracking error, not intonation.
OUTLIER_SEMITONES = 10.0
# A frame is voiced when it repeats itself this well at its period (normalised correlation).
VOICING = 0.5
# A shorter lag almost as good as the best is the true period, not a subharmonic.
OCTAVE_TOLERANCE = 0.9
# Below any speech on a telephone line; the thermometer raises it above the line's noise.
SILENCE_DB = -50.0
# The level of digital silence, so logs of zero never reach a reading.
FLOOR_DB = -100.0
FULL_SCALE = 32768.0


def _mulaw_table() -> np.ndarray:
    """The 256 G.711 mu-law codes decoded to 16-bit linear samples."""
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(sign, -magnitude, magnitude).astype(np.int16)


MULAW = _mulaw_table()


def decode_mulaw(data: bytes) -> np.ndarray:
    """Decode mu-law bytes to linear samples as float32 in 16-bit units."""
    return MULAW[np.frombuffer(data, dtype=np.uint8)].astype(np.float32)


def encode_mulaw(samples: np.ndarray) -> bytes:
    """Encode linear 16-bit samples as G.711 mu-law bytes (the inverse of decode_mulaw)."""
    linear = np.clip(np.asarray(samples, dtype=np.float64), -32635, 32635).astype(np.int32)
    sign = np.where(linear < 0, 0x80, 0)
    magnitude = np.abs(linear) + 0x84
    exponent = np.clip(np.floor(np.log2(magnitude)).astype(np.int32) - 7, 0, 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


@dataclass(frozen=True)
class Features:
    """What one window of a caller's audio sounds like."""

    # RMS level of the frames carrying speech, dBFS (of the whole window when none does).
    loudness_db: float
    # Syllable nuclei per second of window.
    rate: float
    # Median fundamental of the voiced frames, None when none is voiced.
    pitch_hz: float | None
    # Standard deviation of the pitch in semitones (0 with fewer than three voiced frames).
    pitch_var: float
    # Share of the window's 20 ms frames below the silence threshold.
    pauses: float
    # Seconds of the window above the silence threshold.
    speech_s: float


def frame_levels(samples: np.ndarray, size: int = FRAME, hop: int | None = None) -> np.ndarray:
    """The dBFS level of each frame of a signal (frames of `size` every `hop` samples)."""
    frames = _frames(samples, size, hop or size)
    power = np.mean(frames * frames, axis=1) if len(frames) else np.zeros(0)
    return _db(power)


def features(samples: np.ndarray, silence_db: float = SILENCE_DB) -> Features:
    """Measure a window of 8 kHz linear samples; frames below silence_db count as pauses."""
    frames = _frames(samples, FRAME, FRAME)
    if not len(frames):
        return Features(FLOOR_DB, 0.0, None, 0.0, 1.0, 0.0)
    power = np.mean(frames * frames, axis=1)
    active = _db(power) > silence_db
    spoken = power[active]
    loudness = float(_db(np.mean(spoken if len(spoken) else power)))
    pitches, voiced = _pitch_track(samples, silence_db)
    rate = _nuclei(samples, silence_db, voiced) / (len(samples) / RATE_HZ)
    pitch_hz, pitch_var = _pitch_summary(pitches)
    return Features(
        loudness_db=loudness,
        rate=rate,
        pitch_hz=pitch_hz,
        pitch_var=pitch_var,
        pauses=float(1.0 - np.mean(active)),
        speech_s=float(np.count_nonzero(active) * FRAME / RATE_HZ),
    )


def _frames(samples: np.ndarray, size: int, hop: int) -> np.ndarray:
    """The signal's whole frames as rows (a view, no copy)."""
    count = 0 if len(samples) < size else 1 + (len(samples) - size) // hop
    if count == 0:
        return np.zeros((0, size), dtype=np.float32)
    return np.lib.stride_tricks.sliding_window_view(samples, size)[::hop][:count]


def _db(power: np.ndarray | float) -> np.ndarray:
    """Mean-square power in 16-bit units as dBFS, floored at digital silence."""
    ratio = np.maximum(np.asarray(power, dtype=np.float64), 1e-12) / (FULL_SCALE * FULL_SCALE)
    return np.maximum(10.0 * np.log10(ratio), FLOOR_DB)


def _pitch_track(samples: np.ndarray, silence_db: float) -> tuple[np.ndarray, np.ndarray]:
    """The pitch of each voiced 40 ms frame (every 20 ms), and which frames are voiced."""
    frames = _frames(samples, PITCH_FRAME, FRAME)
    voiced = np.zeros(len(frames), dtype=bool)
    if not len(frames):
        return np.zeros(0), voiced
    loud = frame_levels(samples, PITCH_FRAME, FRAME)[: len(frames)] > silence_db
    if not loud.any():
        return np.zeros(0), voiced
    chosen = frames[loud] - frames[loud].mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(chosen, PITCH_FFT)
    lagged = np.fft.irfft(spectrum.real**2 + spectrum.imag**2, PITCH_FFT)[:, : MAX_LAG + 2]
    # Energy of the overlapping parts at each lag, so every lag is judged on equal terms.
    running = np.concatenate(
        [np.zeros((len(chosen), 1)), np.cumsum(chosen * chosen, axis=1)], axis=1
    )
    lags = np.arange(MAX_LAG + 2)
    head = running[:, PITCH_FRAME - lags]
    tail = running[:, -1:] - running[:, lags]
    score = lagged / np.sqrt(np.maximum(head * tail, 1e-9))
    window = score[:, MIN_LAG : MAX_LAG + 1]
    best = window.max(axis=1)
    # The first lag nearly as good as the best: the period rather than a multiple of it.
    lag = np.argmax(window >= OCTAVE_TOLERANCE * best[:, None], axis=1) + MIN_LAG
    lag = _refine(score, _climb(score, lag))
    is_voiced = best >= VOICING
    voiced[np.flatnonzero(loud)[is_voiced]] = True
    return RATE_HZ / lag[is_voiced], voiced


def _climb(score: np.ndarray, lag: np.ndarray) -> np.ndarray:
    """Move each lag up its slope to the top of its correlation peak."""
    rows = np.arange(len(lag))
    for _ in range(MAX_LAG // MIN_LAG):  # a peak is narrower than the shortest period
        higher = (lag < MAX_LAG) & (score[rows, np.minimum(lag + 1, MAX_LAG)] > score[rows, lag])
        if not higher.any():
            break
        lag = lag + higher
    return lag


def _refine(score: np.ndarray, lag: np.ndarray) -> np.ndarray:
    """Move each integer lag to its parabola's peak, for pitch finer than 8000/lag steps."""
    rows = np.arange(len(lag))
    before, at, after = score[rows, lag - 1], score[rows, lag], score[rows, lag + 1]
    curve = before - 2 * at + after
    shift = np.where(curve < 0, 0.5 * (before - after) / np.where(curve < 0, curve, -1), 0.0)
    return lag + np.clip(shift, -0.5, 0.5)


def _pitch_summary(pitches: np.ndarray) -> tuple[float | None, float]:
    """The median pitch and its spread in semitones, or (None, 0) without voiced frames."""
    if not len(pitches):
        return None, 0.0
    # A frame far from the window's median is a formant or a subharmonic taken for the
    # fundamental (telephone audio has no energy below 300 Hz), not the voice leaping.
    semitones = 12.0 * np.log2(pitches / np.median(pitches))
    kept = pitches[np.abs(semitones) <= OUTLIER_SEMITONES]
    median = float(np.median(kept))
    if len(kept) < 3:
        return median, 0.0
    return median, float(np.std(12.0 * np.log2(kept / median)))


def _nuclei(samples: np.ndarray, silence_db: float, voiced: np.ndarray) -> int:
    """Count syllable nuclei: voiced peaks of the band energy that a dip sets apart."""
    envelope = _band_envelope(samples)
    if len(envelope) < 3:
        return 0
    middle = envelope[1:-1]
    peaks = np.flatnonzero((middle > envelope[:-2]) & (middle >= envelope[2:])) + 1
    # A nucleus is spoken (above silence) and voiced (in a pitch frame that repeats itself).
    pitch_frame = np.clip((peaks - 1) * HOP // FRAME, 0, max(len(voiced) - 1, 0))
    spoken = envelope[peaks] > silence_db
    if len(voiced):
        spoken &= voiced[pitch_frame]
    return _separated(envelope, peaks[spoken])


def _band_envelope(samples: np.ndarray) -> np.ndarray:
    """The 250-3000 Hz energy in dBFS every 10 ms, smoothed over about 50 ms."""
    frames = _frames(samples, FRAME, HOP)
    if not len(frames):
        return np.zeros(0)
    spectrum = np.fft.rfft(frames * np.hanning(FRAME), ENVELOPE_FFT)
    bins = np.fft.rfftfreq(ENVELOPE_FFT, 1.0 / RATE_HZ)
    band = (bins >= BAND_HZ[0]) & (bins <= BAND_HZ[1])
    chosen = spectrum[:, band]
    # Scaled so a full-band signal reads about its frame level (Parseval with the window).
    power = (chosen.real**2 + chosen.imag**2).sum(axis=1) * 2 / (FRAME * FRAME * 0.375)
    smooth = np.convolve(power, SMOOTH, mode="same")
    return _db(smooth)


def _separated(envelope: np.ndarray, peaks: np.ndarray) -> int:
    """Keep peaks the envelope dips between by NUCLEUS_DIP_DB; of two too close, the higher."""
    kept: list[int] = []
    for peak in peaks.tolist():
        if not kept:
            kept.append(peak)
            continue
        dip = float(envelope[kept[-1] : peak + 1].min())
        if min(envelope[kept[-1]], envelope[peak]) - dip >= NUCLEUS_DIP_DB:
            kept.append(peak)
        elif envelope[peak] > envelope[kept[-1]]:
            kept[-1] = peak
    return len(kept)

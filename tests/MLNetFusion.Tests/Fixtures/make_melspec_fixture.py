#!/usr/bin/python3
"""Generates melspec_reference.json: torchaudio.transforms.MelSpectrogram outputs that MelSpectrogramTests compare to.

Run once with Debian's interpreter (apt-get install python3-numpy python3-torch python3-torchaudio):
    /usr/bin/python3 tests/MLNetFusion.Tests/Fixtures/make_melspec_fixture.py
Generated with torch 1.13 / torchaudio 0.13.1. The signals are stored in the fixture, so the C# side needs no RNG.
"""
import json, math, os
import numpy as np
import torch, torchaudio

rng = np.random.default_rng(1234)

def signal(sr, seconds):
    t = np.arange(int(sr * seconds)) / sr
    x = 0.4 * np.sin(2 * math.pi * 440 * t) + 0.2 * np.sin(2 * math.pi * (300 + 1500 * t) * t)
    x += 0.05 * rng.standard_normal(t.shape)
    return x.astype(np.float32)

configs = [
    dict(sample_rate=8000, n_fft=256, win_length=None, hop_length=128, n_mels=40, f_min=0.0, f_max=None, seconds=0.5),
    dict(sample_rate=16000, n_fft=400, win_length=320, hop_length=160, n_mels=64, f_min=50.0, f_max=7600.0, seconds=0.4),
    dict(sample_rate=8000, n_fft=400, win_length=None, hop_length=None, n_mels=64, f_min=0.0, f_max=None, seconds=1.0),
]
out = []
for c in configs:
    x = signal(c["sample_rate"], c["seconds"])
    kw = dict(sample_rate=c["sample_rate"], n_fft=c["n_fft"], win_length=c["win_length"], hop_length=c["hop_length"],
              n_mels=c["n_mels"], f_min=c["f_min"], f_max=c["f_max"], power=2.0, center=True, pad_mode="reflect",
              norm=None, mel_scale="htk")
    mel = torchaudio.transforms.MelSpectrogram(**kw)(torch.from_numpy(x)).numpy()
    out.append(dict(config=c, signal=x.tolist(), mel=mel.astype(np.float64).ravel().tolist(), shape=list(mel.shape)))
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "melspec_reference.json")
with open(path, "w") as f:
    json.dump(dict(generator="torchaudio " + torchaudio.__version__ + ", torch " + torch.__version__, cases=out), f)
print("wrote", path, [o["shape"] for o in out])

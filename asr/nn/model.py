"""The acoustic network: conv subsampling (x4) -> BiLSTM or Conformer encoder -> linear over units,
and optionally an attention decoder over the same units beside the CTC head (joint CTC/attention,
asr.nn.attention).

Input: (batch, frames, 80) log-mel filterbanks at 10 ms; output: (batch, frames / 4, units)
log-probabilities at 40 ms (FRAME_SECONDS), blank at index 0 (CTC). With `frames_per_output` k
each encoder frame predicts k consecutive output frames (a linear layer of k x units, reshaped):
k = 4 gives one output per 10 ms input frame at the cost of a 40 ms encoder, as the DNN-HMM's
frame-level HMM-state targets need.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
from torch import nn

from asr.errors import AsrError

SUBSAMPLING = 4  # two stride-2 convolutions
FRAME_SECONDS = 0.04  # one output frame = four 10 ms input frames
ENCODERS = ("blstm", "conformer")
# The network's parts by attribute: the encoder side turns features into encoder frames whatever
# the units (what transfer learning copies and a frozen encoder holds); the heads map encoder
# frames to a unit inventory (the CTC output layer, the attention decoder when there is one, the
# second CTC head of a multi-task model).
ENCODER_PARTS = ("subsampling", "encoder")
HEAD_PARTS = ("output", "decoder", "aux_output")


@dataclass
class ModelConfig:
    input_dim: int = 80  # filterbank bins
    num_outputs: int = 0  # units + blank; set from the unit inventory
    frames_per_output: int = 1  # output frames per encoder frame; set by the pipeline (dnnhmm: 4)
    attention_layers: int = 0  # Transformer decoder layers beside the CTC head (0: CTC only); set
    # by the ctc pipeline; the decoder is d_model wide with num_heads heads and ffn_dim feed-forward
    aux_outputs: int = 0  # a second CTC head over another unit inventory, units + blank (multi-task:
    # the hybrid's characters beside its phones); 0: none. Set by the hybrid pipeline
    # The defaults below are the pipelines' defaults too (asr.nn.acoustic.NN_DEFAULTS is built from
    # them). A small Conformer: on AN4 it leaves CTC's all-blank plateau within a few hundred
    # updates, where a 3-layer BLSTM of similar cost was still on it after 600.
    encoder: str = "conformer"  # conformer | blstm
    d_model: int = 144  # width after the x4 convolutional subsampling (conformer width)
    num_layers: int = 4
    lstm_hidden: int = 256  # blstm: cells per direction
    num_heads: int = 4  # conformer attention heads
    ffn_dim: int = 576  # conformer feed-forward width
    conv_kernel: int = 15  # conformer depthwise convolution, in 40 ms output frames (15 = 0.6 s)
    subsampling_channels: int = 32
    dropout: float = 0.1

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise AsrError(f"unknown model option(s): {', '.join(sorted(unknown))}")
        config = cls(**d)
        if config.encoder not in ENCODERS:
            raise AsrError(f"model encoder must be one of {', '.join(ENCODERS)}, not {config.encoder!r}")
        return config

    def to_dict(self) -> dict:
        return asdict(self)


def subsampled_lengths(lengths: torch.Tensor) -> torch.Tensor:
    """Frames after two unpadded 3x3 stride-2 convolutions."""
    for _ in range(2):
        lengths = torch.div(lengths - 3, 2, rounding_mode="floor") + 1
    return lengths


MIN_INPUT_FRAMES = 7  # the shortest input that leaves one output frame


def output_frames(num_frames: int) -> int:
    """subsampled_lengths for one length (inputs shorter than MIN_INPUT_FRAMES are padded to it)."""
    n = max(num_frames, MIN_INPUT_FRAMES)
    return ((n - 3) // 2 + 1 - 3) // 2 + 1


class ConvSubsampling(nn.Module):
    def __init__(self, input_dim: int, channels: int, d_model: int):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, channels, 3, stride=2), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, stride=2), nn.ReLU())
        freq = ((input_dim - 1) // 2 - 1) // 2
        self.out = nn.Linear(channels * freq, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x.unsqueeze(1))  # (B, C, T', F')
        b, c, t, f = x.shape
        return self.out(x.transpose(1, 2).reshape(b, t, c * f))


class CtcModel(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        if config.num_outputs < 2:
            raise AsrError("model needs at least one unit besides the blank")
        self.config = config
        self.subsampling = ConvSubsampling(config.input_dim, config.subsampling_channels, config.d_model)
        self.dropout = nn.Dropout(config.dropout)
        if config.encoder == "blstm":
            self.encoder = nn.LSTM(config.d_model, config.lstm_hidden, num_layers=config.num_layers,
                                   bidirectional=True, batch_first=True,
                                   dropout=config.dropout if config.num_layers > 1 else 0.0)
            width = 2 * config.lstm_hidden
        else:
            from asr.torchaudio_compat import torchaudio

            self.encoder = torchaudio.models.Conformer(
                input_dim=config.d_model, num_heads=config.num_heads, ffn_dim=config.ffn_dim,
                num_layers=config.num_layers, depthwise_conv_kernel_size=config.conv_kernel,
                dropout=config.dropout)
            width = config.d_model
        if config.frames_per_output < 1:
            raise AsrError("frames_per_output must be at least 1")
        self.output = nn.Linear(width, config.num_outputs * config.frames_per_output)
        self.aux_output = nn.Linear(width, config.aux_outputs) if config.aux_outputs else None
        self.decoder = None
        if config.attention_layers:
            if config.frames_per_output != 1:
                raise AsrError("an attention decoder needs one output frame per encoder frame")
            from asr.nn.attention import AttentionDecoder

            self.decoder = AttentionDecoder(config.num_outputs, width, config.d_model, config.num_heads,
                                            config.ffn_dim, config.attention_layers, config.dropout)

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, F) features -> (B, T', V) log-probabilities and (B,) output lengths."""
        encoded, lengths = self.encode(feats, lengths)
        return self.ctc_log_probs(encoded, lengths)

    def encode(self, feats: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, F) features -> (B, T', width) encoder output (what the attention decoder attends
        to) and (B,) its lengths."""
        if feats.shape[1] < MIN_INPUT_FRAMES:  # too short for the convolutions: pad with zeros
            feats = nn.functional.pad(feats, (0, 0, 0, MIN_INPUT_FRAMES - feats.shape[1]))
        x = self.dropout(self.subsampling(feats))
        out_lengths = subsampled_lengths(lengths.clamp(min=MIN_INPUT_FRAMES))
        if self.config.encoder == "blstm":
            packed = nn.utils.rnn.pack_padded_sequence(x, out_lengths.cpu(), batch_first=True,
                                                       enforce_sorted=False)
            x, _ = self.encoder(packed)
            x, _ = nn.utils.rnn.pad_packed_sequence(x, batch_first=True)
        else:
            x, _ = self.encoder(x, out_lengths)
        return x, out_lengths

    def ctc_log_probs(self, encoded: torch.Tensor, out_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The CTC head: encoder output -> (B, T' k, V) log-probabilities and their lengths."""
        y = self.output(self.dropout(encoded))
        k = self.config.frames_per_output
        if k > 1:  # (B, T', k V) -> (B, k T', V): output frame k t + i is encoder frame t's i-th block
            y = y.reshape(y.shape[0], y.shape[1] * k, self.config.num_outputs)
            out_lengths = out_lengths * k
        return y.log_softmax(-1), out_lengths

    def aux_log_probs(self, encoded: torch.Tensor, out_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The second CTC head (multi-task models): encoder output -> (B, T', aux units) log-probabilities."""
        if self.aux_output is None:
            raise AsrError("this network has no second output head")
        return self.aux_output(self.dropout(encoded)).log_softmax(-1), out_lengths


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

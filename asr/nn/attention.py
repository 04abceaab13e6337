"""The attention decoder of a joint CTC/attention model (ESPnet, WeNet): a Transformer decoder that
predicts each unit from the units before it and the whole encoder output.

It shares the CTC model's unit inventory. The CTC blank (index 0) never occurs inside a target,
so it doubles as the decoder's start and end symbol (<sos>/<eos>): a target [y1 .. yn] is read as
<sos> y1 .. yn and predicted as y1 .. yn <eos>.

Training adds its cross-entropy to the CTC loss (asr.nn.train.joint_loss); decoding does not run
it on its own but rescores the CTC search's n-best list with `sequence_log_probs` (WeNet's
"attention rescoring"), so word times and confidences still come from the CTC alignment.
"""
from __future__ import annotations

import math

import torch
from torch import nn

SOS = EOS = 0  # the CTC blank's index: never a target unit
LABEL_SMOOTHING = 0.1  # of the decoder's cross-entropy (ESPnet's lsm_weight for AN4 and LibriSpeech)
NO_TARGET = -100  # cross_entropy's ignore_index: padding


class AttentionDecoder(nn.Module):
    def __init__(self, num_outputs: int, memory_dim: int, d_model: int, num_heads: int, ffn_dim: int,
                 num_layers: int, dropout: float):
        super().__init__()
        self.d_model = d_model
        self.embed = nn.Embedding(num_outputs, d_model)
        # a BiLSTM encoder is 2 x lstm_hidden wide: projected to the decoder's width
        self.memory = nn.Linear(memory_dim, d_model) if memory_dim != d_model else nn.Identity()
        layer = nn.TransformerDecoderLayer(d_model, num_heads, ffn_dim, dropout, batch_first=True, norm_first=True)
        self.layers = nn.TransformerDecoder(layer, num_layers, norm=nn.LayerNorm(d_model))
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(d_model, num_outputs)

    def forward(self, memory: torch.Tensor, memory_lengths: torch.Tensor,
                targets: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced log-probabilities (B, U + 1, V) of each target's units followed by <eos>,
        and the (B, U + 1) units they predict (NO_TARGET past each target's end)."""
        device = memory.device
        longest = max(len(t) for t in targets) + 1
        inputs = torch.full((len(targets), longest), EOS, dtype=torch.long, device=device)
        outputs = torch.full((len(targets), longest), NO_TARGET, dtype=torch.long, device=device)
        for i, t in enumerate(targets):
            seq = torch.tensor(t, dtype=torch.long, device=device)
            inputs[i, 0] = SOS
            inputs[i, 1:len(t) + 1] = seq
            outputs[i, :len(t)] = seq
            outputs[i, len(t)] = EOS
        x = self.dropout(self.embed(inputs) * math.sqrt(self.d_model) + positions(longest, self.d_model, device))
        causal = torch.triu(torch.ones(longest, longest, dtype=torch.bool, device=device), diagonal=1)
        memory_padding = torch.arange(memory.shape[1], device=device)[None, :] >= memory_lengths[:, None]
        # Absolute positions on the memory too: the encoders (BiLSTM, Conformer with relative
        # positions) give none, and cross-attention finds its place faster with them.
        memory = self.memory(memory) + positions(memory.shape[1], self.d_model, device)
        x = self.layers(x, memory, tgt_mask=causal, tgt_key_padding_mask=outputs == NO_TARGET,
                        memory_key_padding_mask=memory_padding)
        return self.output(x).log_softmax(-1), outputs

    def loss(self, memory: torch.Tensor, memory_lengths: torch.Tensor, targets: list[list[int]]) -> torch.Tensor:
        """Label-smoothed cross-entropy of every unit and <eos>, summed over the batch."""
        log_probs, outputs = self(memory, memory_lengths, targets)
        return nn.functional.cross_entropy(log_probs.transpose(1, 2), outputs, ignore_index=NO_TARGET,
                                           label_smoothing=LABEL_SMOOTHING, reduction="sum")

    @torch.no_grad()
    def sequence_log_probs(self, memory: torch.Tensor, memory_lengths: torch.Tensor,
                           targets: list[list[int]]) -> torch.Tensor:
        """(B,) log P(y1 .. yn <eos> | audio) of each target under the decoder (no smoothing)."""
        log_probs, outputs = self(memory, memory_lengths, targets)
        picked = log_probs.gather(-1, outputs.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        return (picked * (outputs != NO_TARGET)).sum(-1)


    @torch.no_grad()
    def greedy(self, memory: torch.Tensor, max_units: int) -> list[int]:
        """The decoder on its own: the most likely next unit at each step, from <sos> until <eos>
        or `max_units` units, attending to one utterance's (frames, width) encoder output."""
        lengths = torch.tensor([memory.shape[0]], device=memory.device)
        units: list[int] = []
        while len(units) < max_units:
            log_probs, _ = self(memory.unsqueeze(0), lengths, [units])
            best = int(log_probs[0, len(units)].argmax())
            if best == EOS:
                break
            units.append(best)
        return units


def positions(length: int, width: int, device) -> torch.Tensor:
    """(length, width) sinusoidal position encodings (Vaswani et al. 2017)."""
    pos = torch.arange(length, dtype=torch.float32, device=device)[:, None]
    rate = torch.exp(torch.arange(0, width, 2, dtype=torch.float32, device=device) * (-math.log(10000.0) / width))
    table = torch.zeros(length, width, device=device)
    table[:, 0::2] = torch.sin(pos * rate)
    table[:, 1::2] = torch.cos(pos * rate)[:, :width // 2]
    return table

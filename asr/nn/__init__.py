"""Neural CTC acoustic models: encoder (asr.nn.model), augmentation, training loop, checkpoints.

The ctc and hybrid pipelines share all of it; they differ only in output units and decoding.
"""

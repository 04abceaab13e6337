"""Neural acoustic models: encoder (asr.nn.model), augmentation, training loop (CTC or frame
cross-entropy), checkpoints, and the scorer that reads a trained network back (asr.nn.acoustic).

The ctc, hybrid and dnnhmm pipelines share all of it; they differ in targets, units and decoding.
"""

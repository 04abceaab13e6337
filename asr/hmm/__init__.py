"""Classic acoustic models: HMM topology, diagonal GMMs, Viterbi alignment and training, decision trees."""

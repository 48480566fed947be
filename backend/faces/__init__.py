"""Real-face readers: MTCNN detector, face-api landmark/expression/identity nets and fer's
mini-Xception, ported to PyTorch, plus FFHQ-style alignment."""

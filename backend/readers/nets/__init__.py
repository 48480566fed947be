"""The real-face networks ported to PyTorch (MTCNN, face-api's nets, fer) and their weight files."""

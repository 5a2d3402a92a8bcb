"""Models: one file each. Import them from the package root (``sv.VAE``, ``sv.Autoencoder``...)."""

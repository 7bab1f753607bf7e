"""Data: MNIST in every published layout (IDX, gzipped or not, Kaggle folders, mnist.npz), the
verified download and its cache, the bundled 8×8 digits, dataset statistics and the label-free
preprocessing, and VGG16's ImageNet weight file. Nothing here runs a job."""

"""Helpers shared by the test folders: imported as a package (``from helpers import naive``).

``naive``       plain-loop references of every kernel, written for clarity (the third oracle)
``idx_sets``    small synthetic IDX data sets and an offline cache for the loader tests
``data``        the rule for tests that need the real MNIST files
``interrupts``  epochs cut short (a signal handler's exception, a non-finite batch) leave the
                weights of whole batches: for the dense and the sparse epoch tests
``refusals``    every backend refuses a bad kernel input with the same error
``cli_data``    a learnable synthetic image set standing in for MNIST in the CLI tests
"""

"""What mockrec keeps on disk: atomic files, the history, collections, mocks and environments."""

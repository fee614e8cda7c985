"""Training, evaluation and late fusion of the action-recognition streams."""

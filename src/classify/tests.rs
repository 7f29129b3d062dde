// unit tests for the classifier live in tests/ (fixtures)

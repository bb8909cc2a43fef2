"""Input and output: the only modules that read or write files or reach the network."""

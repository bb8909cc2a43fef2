"""Readers: the only modules that read input files, the environment or the network.

:mod:`~coverage.io.roads`, :mod:`~coverage.io.facilities`, :mod:`~coverage.io.population`,
:mod:`~coverage.io.admin` read the data; :mod:`~coverage.io.settings` reads the settings
files and finds the data folder; :mod:`~coverage.io.regional` reads the regional data folder.
Everything written goes through :mod:`coverage.outputs`.
"""

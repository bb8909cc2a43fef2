"""Reference tables shipped with the package: the names of France's regions and
departments (COG 2026, from npm ``@etalab/decoupage-administratif`` 6.0.0, Licence
Ouverte; see ``geodata/README.md``)."""

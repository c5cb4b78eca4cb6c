"""The device farm: lab files, the job queue, device leases, workers, CI reports and the gate.

``Lab`` (:mod:`edgekit.farm.lab`) is the entry point. The farm keeps its tables
(:mod:`edgekit.farm.schema`) in the results store (:mod:`edgekit.store`). Nothing is
imported here, so importing one farm module stays cheap.
"""

"""The device farm: lab files, the job queue, device leases, workers, CI reports and the gate.

``Lab`` (:mod:`edgekit.farm.lab`) is the entry point; the results ``Store`` is in
:mod:`edgekit.farm.store`. Nothing is imported here, so ``import edgekit.farm.store``
stays cheap.
"""

"""``edgekit run``: the paper's workflow as one resumable pipeline.

A pipeline file (:mod:`.pipeline_file`) names the dataset, the model family, the recipes,
the variants, the devices (or a lab file) and the report's constraints; :mod:`.run` runs
the stages in order — training (:mod:`.train_stage`), convert and evaluate
(:mod:`.convert_stage`), measure (:mod:`.measure_stage`), report and the paper's two
strategies (:mod:`.report_stage`, :mod:`.strategies`) — each cached by content in the run
folder (:mod:`.run_folder`). Stages share a :class:`~.context.StageContext`, never the
whole run. The model family, the training recipes and the datasets are in
:mod:`edgekit.recipes`.
"""

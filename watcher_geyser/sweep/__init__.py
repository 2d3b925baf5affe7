"""``geyser sweep``: many ``geyser simulate`` runs (a grid of cells) on a Dask cluster.

``grid`` reads the TOML grid into cells (pure: no Dask), ``cells`` runs one cell (the function
every worker calls), ``runner`` drives a Dask cluster (or none) with progress and resumption,
``results`` writes the table, each cell's report and the summary plots. A cell is exactly the
arguments of one ``geyser simulate`` run, so every option that command gains is a grid key.
"""

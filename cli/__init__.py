"""The ``fcdata`` command line (installed as the package ``fcdata.cli``; the source lives in ``cli/``).

Each command is a thin module: parse options, call one library function, print the result. Commands are
loaded lazily so that ``fcdata validate`` never imports torch.
"""

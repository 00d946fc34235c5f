"""The machine: a CPU lens scorer that joins the crowd as one more, measured participant.

* :mod:`.data` - training sets from the store or simulated; the network's input scaling;
* :mod:`.model` - a slim ResNet-18;
* :mod:`.train` / :mod:`.predict` - training runs, model files, machine scores in the store;
* :mod:`.combine` - the machine's skill on held-out subjects and its evidence in SWAP;
* :mod:`.routing` - which unknown subject a volunteer should see next.

torch is imported only when a model is trained or run; :mod:`.combine` and :mod:`.routing`
need only numpy and pandas.  See ``docs/machine.md``.
"""

__all__: list[str] = []

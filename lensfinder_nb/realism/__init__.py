"""How real do our mocks look? Statistics measured the same way on mocks and real lenses, a pixel
probe that tries to tell them apart, plots and a side-by-side contact sheet (``lensfinder realism``)."""

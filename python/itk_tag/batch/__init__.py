"""The work users run on folders of masks: ``convert``, ``measure``, ``qc`` and DICOM SEG.

* :mod:`.runner` -- files in, one job per file in this process or in workers,
  outcomes, the report, progress, interrupts;
* :mod:`.options` -- one options object per command, checked when it is made;
* :mod:`.reference` -- the image a tag was drawn on, opened once, and whether
  the tag lies on its grid;
* :mod:`.convert`, :mod:`.measure`, :mod:`.qc`, :mod:`.dicomseg` -- the jobs;
* :mod:`.statistics` -- the numbers of a measurement; :mod:`.allocator` -- malloc settings for a run;
* :mod:`.overlay`, :mod:`.flags`, :mod:`.report` -- qc's pictures, flags and page;
* :mod:`.mask` -- a mask in memory, what the jobs pass on;
* :mod:`.formats` -- the output formats by name; :mod:`.writers` -- writing
  each, atomically.
"""

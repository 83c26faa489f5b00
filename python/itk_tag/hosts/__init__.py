"""Other programs' ITK: which path gives each host ``.tag`` files, and the tools around it.

* :mod:`.plugins` -- the plugin folder and the one rule that decides whether a
  native build serves a host (:func:`~.plugins.served_build`);
* :mod:`.native` -- the builds and their C interface (ctypes);
* :mod:`.import_hook`, :mod:`.itk_python`, :mod:`.slicer_python` --
  SimpleITK, ITK Python and 3D Slicer's core (slicer-core): the native build
  where served;
* :mod:`.dispatch` -- the Python-level path everywhere else;
* :mod:`.doctor`, :mod:`.slicer` -- ``itk-tag doctor`` and ``itk-tag slicer``.

The startup hook, ``_itk_tag_autoload`` (python/autoload/), is a top-level
module so that it costs nothing at interpreter start; it arms
:mod:`.import_hook`.
"""

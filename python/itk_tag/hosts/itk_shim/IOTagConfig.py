"""ITK Python configuration of the IOTag module (installed by the itk-tag wheel)."""

depends = ("ITKPyBase", "ITKIOImageBase")
templates = (
    ("TagImageIO", "itk::TagImageIO", "itkTagImageIO", True),
    ("TagImageIOFactory", "itk::TagImageIOFactory", "itkTagImageIOFactory", True),
)
factories = (("ImageIO", "Tag"),)

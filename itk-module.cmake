# ITK module description, used when itk-tag is built as an ITK remote or
# external module (ITK's build tree, or an ITK install that ships
# ITKModuleExternal.cmake).
get_filename_component(MY_CURRENT_DIR "${CMAKE_CURRENT_LIST_FILE}" PATH)
file(READ "${MY_CURRENT_DIR}/README.md" DOCUMENTATION)

itk_module(IOTag
  ENABLE_SHARED
  DEPENDS
    ITKIOImageBase
  TEST_DEPENDS
    ITKTestKernel
  FACTORY_NAMES
    ImageIO::Tag
  EXCLUDE_FROM_DEFAULT
  DESCRIPTION
    "ImageIO for sliceOmatic .tag segmentation (tag) images."
)

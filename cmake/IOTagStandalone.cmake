# itk-tag as a plain CMake package on top of find_package(ITK): the IOTag
# library, the ITK_AUTOLOAD_PATH plugin, an IOTagConfig.cmake for
# find_package(IOTag), and the tests.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
include(${ITK_USE_FILE})

set(CMAKE_CXX_STANDARD 14)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
# Follow ITK: a shared ITK gets a shared IOTag. The plugin links IOTag into a
# module, so IOTag is position independent either way.
if(NOT DEFINED BUILD_SHARED_LIBS)
  set(BUILD_SHARED_LIBS ${ITK_BUILD_SHARED})
endif()
set(CMAKE_POSITION_INDEPENDENT_CODE ON)

set(IOTag_INSTALL_INCLUDE_DIR "${CMAKE_INSTALL_INCLUDEDIR}/IOTag")
set(IOTag_INSTALL_PLUGIN_DIR "${CMAKE_INSTALL_LIBDIR}/IOTag/plugins" CACHE STRING
  "Folder (relative to the prefix) for the ITK_AUTOLOAD_PATH plugin")
set(IOTag_INSTALL_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/IOTag")

add_subdirectory(src)

include(CTest)
if(BUILD_TESTING)
  add_subdirectory(test)
endif()

option(ITK_TAG_BUILD_FUZZER "Build the libFuzzer harness of the .tag reader (clang only, see fuzz/README.md)" OFF)
if(ITK_TAG_BUILD_FUZZER)
  add_subdirectory(fuzz)
endif()

install(EXPORT IOTagTargets NAMESPACE IOTag:: DESTINATION "${IOTag_INSTALL_CMAKE_DIR}")
configure_package_config_file(cmake/IOTagConfig.cmake.in "${PROJECT_BINARY_DIR}/IOTagConfig.cmake"
  INSTALL_DESTINATION "${IOTag_INSTALL_CMAKE_DIR}"
  PATH_VARS IOTag_INSTALL_PLUGIN_DIR)
write_basic_package_version_file("${PROJECT_BINARY_DIR}/IOTagConfigVersion.cmake" COMPATIBILITY SameMajorVersion)
install(FILES "${PROJECT_BINARY_DIR}/IOTagConfig.cmake" "${PROJECT_BINARY_DIR}/IOTagConfigVersion.cmake"
  DESTINATION "${IOTag_INSTALL_CMAKE_DIR}")

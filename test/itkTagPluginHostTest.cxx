/*=========================================================================
 *
 *  Copyright itk-tag contributors
 *
 *  Licensed under the Apache License, Version 2.0 (the "License");
 *  you may not use this file except in compliance with the License.
 *  You may obtain a copy of the License at
 *
 *         https://www.apache.org/licenses/LICENSE-2.0.txt
 *
 *  Unless required by applicable law or agreed to in writing, software
 *  distributed under the License is distributed on an "AS IS" BASIS,
 *  WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 *  See the License for the specific language governing permissions and
 *  limitations under the License.
 *
 *=========================================================================*/
// A host program that knows nothing of itk-tag: it is linked to ITK only and
// reads a .tag file through the plugin found on ITK_AUTOLOAD_PATH.
//
// Usage: itkTagPluginHostTest <file.tag> <expected x> <expected y> <expected z>
#include "itkImage.h"
#include "itkImageFileReader.h"

#include <cstdlib>
#include <iostream>
#include <string>

int
main(int argc, char * argv[])
{
  if (argc != 5)
  {
    std::cerr << "usage: " << argv[0] << " <file.tag> <x> <y> <z>" << std::endl;
    return EXIT_FAILURE;
  }
  if (std::getenv("ITK_AUTOLOAD_PATH") == nullptr)
  {
    std::cerr << "ITK_AUTOLOAD_PATH is not set" << std::endl;
    return EXIT_FAILURE;
  }
  using ImageType = itk::Image<unsigned char, 3>;
  auto reader = itk::ImageFileReader<ImageType>::New();
  reader->SetFileName(argv[1]);
  try
  {
    reader->Update();
  }
  catch (const itk::ExceptionObject & exception)
  {
    std::cerr << exception << std::endl;
    return EXIT_FAILURE;
  }
  const std::string ioName = reader->GetImageIO()->GetNameOfClass();
  const auto        size = reader->GetOutput()->GetLargestPossibleRegion().GetSize();
  std::cout << "read " << argv[1] << " with " << ioName << ": " << size << std::endl;
  const bool ok = ioName == "TagImageIO" && size[0] == std::stoul(argv[2]) && size[1] == std::stoul(argv[3]) &&
                  size[2] == std::stoul(argv[4]);
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}

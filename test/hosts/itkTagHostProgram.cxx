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
// reads an image through whatever ImageIO the factories (ITK_AUTOLOAD_PATH)
// offer, then prints what it read as one JSON line:
//   {"io": ..., "component": ..., "size": [x, y, z], "origin": [...],
//    "spacing": [...], "direction": [row-major 3x3], "fnv1a": "<64-bit hex>"}
// fnv1a hashes the voxels as little-endian uint16, x fastest. An ITK
// exception (a malformed file, or no ImageIO for it) is printed on stderr and
// exits 1.
//
// One program for both suites: ctest (test/CMakeLists.txt, against the ITK the
// plugin is built with) and the Python plugin-folder tests (test/hosts/, built
// by test/python/hosts.py against each host ITK).
//
// Usage: itkTagHostProgram <image>
#include "itkImage.h"
#include "itkImageFileReader.h"
#include "itkImageRegionConstIterator.h"

#include <cstdint>
#include <cstdlib>
#include <iomanip>
#include <iostream>

namespace
{
template <typename T>
void
PrintArray(const char * name, const T & values, unsigned int count)
{
  std::cout << '"' << name << "\": [";
  for (unsigned int i = 0; i < count; ++i)
  {
    std::cout << (i ? ", " : "") << std::setprecision(17) << values[i];
  }
  std::cout << "], ";
}
} // namespace

int
main(int argc, char * argv[])
{
  if (argc != 2)
  {
    std::cerr << "usage: " << argv[0] << " <image>" << std::endl;
    return 2;
  }
  using ImageType = itk::Image<unsigned short, 3>;
  auto reader = itk::ImageFileReader<ImageType>::New();
  reader->SetFileName(argv[1]);
  try
  {
    reader->Update();
  }
  catch (const itk::ExceptionObject & exception)
  {
    std::cerr << exception << std::endl;
    return 1;
  }
  const ImageType * image = reader->GetOutput();
  std::uint64_t     hash = 14695981039346656037ULL;
  for (itk::ImageRegionConstIterator<ImageType> it(image, image->GetBufferedRegion()); !it.IsAtEnd(); ++it)
  {
    const unsigned int value = it.Get();
    for (const unsigned int byte : { value & 0xFFu, value >> 8u })
    {
      hash = (hash ^ byte) * 1099511628211ULL;
    }
  }
  std::cout << "{\"io\": \"" << reader->GetImageIO()->GetNameOfClass() << "\", \"component\": \""
            << itk::ImageIOBase::GetComponentTypeAsString(reader->GetImageIO()->GetComponentType()) << "\", ";
  PrintArray("size", image->GetLargestPossibleRegion().GetSize(), 3);
  PrintArray("origin", image->GetOrigin(), 3);
  PrintArray("spacing", image->GetSpacing(), 3);
  double direction[9];
  for (unsigned int i = 0; i < 9; ++i)
  {
    direction[i] = image->GetDirection()[i / 3][i % 3];
  }
  PrintArray("direction", direction, 9);
  std::cout << "\"fnv1a\": \"" << std::hex << std::setw(16) << std::setfill('0') << hash << "\"}" << std::endl;
  return 0;
}

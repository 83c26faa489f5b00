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
#ifndef itkTagTestSupport_h
#define itkTagTestSupport_h

#include "itkDirectory.h"
#include "itkImage.h"
#include "itkImageFileReader.h"
#include "itkImageFileWriter.h"
#include "itkMetaDataObject.h"
#include "itkTagImageIO.h"
#include "itkTagImageIOFactory.h"
#include "itksys/SystemTools.hxx"

#include <array>
#include <cmath>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>

namespace itk
{
namespace tagtest
{
using Vec3 = std::array<double, 3>;
using Size3 = std::array<size_t, 3>;
using UCharImage = itk::Image<unsigned char, 3>;
using UShortImage = itk::Image<unsigned short, 3>;
using UChar2DImage = itk::Image<unsigned char, 2>;

struct Paths
{
  std::string Data;    // the real sample files
  std::string Scratch; // an empty folder for this case
};

inline void
Check(bool condition, const std::string & what)
{
  if (!condition)
  {
    throw std::runtime_error("check failed: " + what);
  }
}

inline void
CheckNear(double actual, double expected, double tolerance, const std::string & what)
{
  if (!(std::abs(actual - expected) <= tolerance))
  {
    std::ostringstream msg;
    msg.precision(17);
    msg << what << " (got " << actual << ", expected " << expected << " within " << tolerance << ")";
    Check(false, msg.str());
  }
}

inline std::string
ReadBytes(const std::string & fileName)
{
  std::ifstream file(fileName.c_str(), std::ios::binary);
  Check(file.is_open(), "cannot open " + fileName);
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

inline void
WriteBytes(const std::string & fileName, const std::string & bytes)
{
  std::ofstream file(fileName.c_str(), std::ios::binary | std::ios::trunc);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  Check(file.good(), "cannot write " + fileName);
}

/** Reads through ImageFileReader and the registered factory, as users do. */
template<typename TImage>
typename TImage::Pointer
ReadTag(const std::string & fileName)
{
  auto reader = itk::ImageFileReader<TImage>::New();
  reader->SetFileName(fileName);
  reader->Update();
  return reader->GetOutput();
}

template<typename TImage>
void
WriteTag(const TImage * image, const std::string & fileName)
{
  auto writer = itk::ImageFileWriter<TImage>::New();
  writer->SetInput(image);
  writer->SetFileName(fileName);
  writer->Update();
}

template<typename TImage>
typename TImage::Pointer
MakeImage(const Size3 & size)
{
  auto                        image = TImage::New();
  typename TImage::RegionType region;
  for (unsigned int i = 0; i < TImage::ImageDimension; ++i)
  {
    region.SetSize(i, size[i]);
  }
  image->SetRegions(region);
  image->Allocate(true);
  return image;
}

/** main() of a test program: argv = <case> <data dir> <scratch dir>. */
inline int
RunCase(int argc, char * argv[], const std::map<std::string, void (*)(const Paths &)> & cases)
{
  if (argc != 4 || cases.count(argv[1]) == 0)
  {
    std::cerr << "usage: " << argv[0] << " <case> <data dir> <scratch dir>; cases:";
    for (const auto & c : cases)
    {
      std::cerr << ' ' << c.first;
    }
    std::cerr << std::endl;
    return EXIT_FAILURE;
  }
  const Paths paths{ argv[2], std::string(argv[3]) + "/" + argv[1] };
  itksys::SystemTools::RemoveADirectory(paths.Scratch);
  itksys::SystemTools::MakeDirectory(paths.Scratch);
  itk::TagImageIOFactory::RegisterOneFactory();
  try
  {
    cases.at(argv[1])(paths);
  }
  catch (const std::exception & exception)
  {
    std::cerr << argv[1] << ": " << exception.what() << std::endl;
    return EXIT_FAILURE;
  }
  std::cout << argv[1] << ": passed" << std::endl;
  return EXIT_SUCCESS;
}
} // namespace tagtest
} // namespace itk

#endif

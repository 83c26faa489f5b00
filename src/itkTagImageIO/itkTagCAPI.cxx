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
/** \file
 * A small C interface to TagHeader and TagImageIO for the Python package,
 * which reaches it through ctypes: it reads a tag into numpy with neither ITK
 * Python nor SimpleITK, and itk_tag_parse_header holds the package's
 * pure-Python parser (itk_tag.format) to this one in the conformance tests.
 *
 * Every function returns 0 on success. On failure it returns non-zero and
 * sets *error to a message (file name and problem) to be released with
 * itk_tag_free().
 */
#include "itkTagImageIO.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <limits>
#include <locale>
#include <sstream>

namespace
{
char *
CopyString(const std::string & text)
{
  auto * copy = static_cast<char *>(std::malloc(text.size() + 1));
  if (copy != nullptr)
  {
    std::memcpy(copy, text.c_str(), text.size() + 1);
  }
  return copy;
}

std::string
JsonString(const std::string & text)
{
  std::string quoted = "\"";
  for (const char c : text)
  {
    if (c == '"' || c == '\\')
    {
      quoted += '\\';
    }
    quoted += c;
  }
  return quoted + "\"";
}

template<typename TContainer>
void
WriteJsonArray(std::ostream & os, const TContainer & values)
{
  os << '[';
  for (size_t i = 0; i < values.size(); ++i)
  {
    os << (i ? "," : "") << values[i];
  }
  os << ']';
}

std::string
HeaderAsJson(const itk::TagHeader & header)
{
  std::ostringstream os;
  os.imbue(std::locale::classic());
  os << std::setprecision(std::numeric_limits<double>::max_digits10);
  os << "{\"size\":";
  WriteJsonArray(os, header.Size);
  os << ",\"component_type\":" << (header.ComponentType == itk::IOComponentEnum::USHORT ? "\"uint16\"" : "\"uint8\"");
  os << ",\"origin\":";
  WriteJsonArray(os, header.Origin);
  os << ",\"spacing\":";
  WriteJsonArray(os, header.Spacing);
  os << ",\"direction\":[";
  for (size_t i = 0; i < 3; ++i)
  {
    os << (i ? "," : "");
    WriteJsonArray(os, header.Direction[i]);
  }
  os << "],\"header_size\":" << header.HeaderSize << ",\"file_size\":" << header.FileSize << ",\"keywords\":[";
  for (size_t i = 0; i < header.Keywords.size(); ++i)
  {
    os << (i ? "," : "") << '[' << JsonString(header.Keywords[i].first) << ',' << JsonString(header.Keywords[i].second)
       << ']';
  }
  os << "]}";
  return os.str();
}

template<typename TFunction>
int
Guarded(char ** error, TFunction && function)
{
  try
  {
    function();
    return 0;
  }
  catch (const itk::ExceptionObject & exception)
  {
    *error = CopyString(exception.GetDescription());
  }
  catch (const std::exception & exception)
  {
    *error = CopyString(exception.what());
  }
  return 1;
}
} // namespace

extern "C"
{
  ITK_ABI_EXPORT int
  itk_tag_read_header(const char * fileName, char ** json, char ** error)
  {
    return Guarded(error, [&]() { *json = CopyString(HeaderAsJson(itk::TagHeader::Read(fileName))); });
  }

  /** Parses a header from memory: \a bytes are the first \a length bytes of
   * a file of \a fileSize bytes named \a fileName (for messages only), decided
   * as itk_tag_read_header decides on a file (TagHeader::FromFileStart). For
   * the conformance tests of the pure-Python parser. */
  ITK_ABI_EXPORT int
  itk_tag_parse_header(const char * bytes,
                       uint64_t     length,
                       uint64_t     fileSize,
                       const char * fileName,
                       char **      json,
                       char **      error)
  {
    return Guarded(error,
                   [&]()
                   {
                     const auto header = itk::TagHeader::FromFileStart(bytes, length, fileSize, fileName);
                     *json = CopyString(HeaderAsJson(header));
                   });
  }

  /** Reads all voxels of fileName into buffer, which must hold exactly the
   * bytes the header announces (x*y*z times 1 or 2). */
  ITK_ABI_EXPORT int
  itk_tag_read_voxels(const char * fileName, void * buffer, uint64_t bufferSize, char ** error)
  {
    return Guarded(error,
                   [&]()
                   {
                     auto io = itk::TagImageIO::New();
                     io->SetFileName(fileName);
                     io->ReadImageInformation();
                     if (io->GetHeader().GetDataSize() != bufferSize)
                     {
                       itkGenericExceptionMacro("sliceOmatic .tag file \"" << fileName
                                                                           << "\" changed while it was being read");
                     }
                     itk::ImageIORegion region(3);
                     for (unsigned int i = 0; i < 3; ++i)
                     {
                       region.SetIndex(i, 0);
                       region.SetSize(i, io->GetDimensions(i));
                     }
                     io->SetIORegion(region);
                     io->Read(buffer);
                   });
  }

  ITK_ABI_EXPORT void
  itk_tag_free(char * text)
  {
    std::free(text);
  }
}

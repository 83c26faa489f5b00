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
#ifndef itkTagHeader_h
#define itkTagHeader_h

#include "IOTagExport.h"
#include "itkIntTypes.h"
#include "itkCommonEnums.h"

#include <array>
#include <string>
#include <utility>
#include <vector>

namespace itk
{
/**
 * \class TagHeader
 * \brief The parsed ASCII header of a sliceOmatic `.tag` file.
 *
 * A `.tag` file is `<ASCII header> 0x0C <voxels>`: the header is a list of
 * `keyword:value` pairs separated by spaces, commas, tabs or line ends (CR LF,
 * LF or CR), with `*` starting a comment that runs to the end of the line.
 * The voxel data starts right after the first form feed, so the header size is
 * found, never assumed.
 *
 * This is the single place in C++ where the format's header rules live:
 * TagImageIO and the Python bindings both go through TagHeader::Read(). The
 * pure-Python port (python/itk_tag/format/header.py) is held to it on one
 * corpus and a differential fuzz run (test/python/test_conformance.py).
 *
 * Geometry follows ITK's LPS convention: origin (org_x, org_y, org_z), spacing
 * (inc_x, inc_y, epais) and direction columns normalize(dir_h),
 * normalize(dir_v), normalize(dir_h x dir_v).
 *
 * \ingroup IOTag
 */
class IOTag_EXPORT TagHeader
{
public:
  /** keyword (lower case) and value (as written), in file order. */
  using KeywordList = std::vector<std::pair<std::string, std::string>>;

  /** A header is never larger than this; a file whose first form feed lies
   * further is rejected instead of being scanned to the end. */
  static constexpr SizeValueType MaximumHeaderSize = 64 * 1024;

  KeywordList Keywords;

  /** Voxels along a row, a column, and number of images. */
  std::array<SizeValueType, 3> Size{ { 0, 0, 0 } };

  /** UCHAR for `type:BYTE`, USHORT (little endian) for `type:SHORT`. */
  IOComponentEnum ComponentType{ IOComponentEnum::UCHAR };

  std::array<double, 3> Origin{ { 0.0, 0.0, 0.0 } };
  std::array<double, 3> Spacing{ { 1.0, 1.0, 1.0 } };

  /** Direction[i] is the unit vector of image axis i (a column of ITK's direction matrix). */
  std::array<std::array<double, 3>, 3> Direction{
    { { { 1.0, 0.0, 0.0 } }, { { 0.0, 1.0, 0.0 } }, { { 0.0, 0.0, 1.0 } } }
  };

  /** Bytes before the voxel data, the form feed included. */
  SizeValueType HeaderSize{ 0 };

  /** Size of the whole file in bytes. */
  SizeValueType FileSize{ 0 };

  /** Bytes per voxel: 1 for BYTE, 2 for SHORT. */
  SizeValueType
  GetBytesPerVoxel() const;

  /** Number of voxel bytes the header announces. */
  SizeValueType
  GetDataSize() const;

  /** Reads and checks the header of \a fileName: the form feed is found by a
   * binary scan, every rule of the format is applied, and the announced voxel
   * data must fit in the file. Nothing the size of the image is allocated.
   * Throws an ExceptionObject naming the file and the problem. */
  static TagHeader
  Read(const std::string & fileName);

  /** Decides on the first \a length bytes of a file of \a fileSize bytes, as
   * Read() does once it has read them: empty file, MNI landmark file, the
   * keyword:value sniff, the form feed within MaximumHeaderSize bytes, then
   * Parse(). Bytes past MaximumHeaderSize are ignored, so any \a length that
   * covers the first form feed (or the cap) gives the same result. Read() and
   * the C entry itk_tag_parse_header() both call it. */
  static TagHeader
  FromFileStart(const char * bytes, SizeValueType length, SizeValueType fileSize, const std::string & fileName);

  /** Parses a header held in memory. \a bytes must end with the form feed;
   * \a fileSize is the size of the whole file (used to check the data fits).
   * \a fileName only names the file in error messages. */
  static TagHeader
  Parse(const char * bytes, SizeValueType length, SizeValueType fileSize, const std::string & fileName);

  /** True when \a bytes start like a sliceOmatic header: optional blank or
   * comment lines, then a `keyword:value` token. Used by CanReadFile so that a
   * broken sliceOmatic file is claimed (and then reported precisely) while MNI
   * landmark files, other formats and binary data are not. */
  static bool
  LooksLikeTagHeader(const char * bytes, SizeValueType length);

  /** LooksLikeTagHeader on the start of \a fileName, reading only as much as
   * it takes to decide: the first bytes for most files, more when they hold
   * only long blank or comment lines (up to the first form feed, at most
   * MaximumHeaderSize bytes). So every file that Read() accepts is claimed.
   * False for a folder or a file that cannot be read. */
  static bool
  FileLooksLikeTagHeader(const std::string & fileName);

  /** Parses a header number as the format writes it ("-204.2221"), in the
   * classic locale whatever LC_NUMERIC the host set. False unless the whole
   * text is one finite number. */
  static bool
  ParseNumber(const std::string & text, double & value);

  /** The value of \a keyword (lower case), or nullptr when absent. */
  const std::string *
  Find(const std::string & keyword) const;
};
} // end namespace itk

#endif // itkTagHeader_h

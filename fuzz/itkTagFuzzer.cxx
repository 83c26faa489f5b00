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
 * libFuzzer harness for the sliceOmatic `.tag` reader.
 *
 * Each input is one whole file. It goes through the header parser on its own
 * (TagHeader::LooksLikeTagHeader and TagHeader::Parse on the bytes held in
 * memory), then through the path every host takes: the bytes become a file
 * (a memfd, so no disk I/O) and TagImageIO runs CanReadFile,
 * ReadImageInformation and Read on it. An image the reader accepts is
 * written back with TagImageIO and read again.
 *
 * Besides the sanitizers, the harness aborts (a finding) when the reader
 * breaks one of its promises: an error must be an itk::ExceptionObject that
 * names the file; an accepted header must describe a valid image whose data
 * lies in the file; the voxels must be exactly the bytes after the first form
 * feed; a file ReadImageInformation accepts must be claimed by CanReadFile;
 * a written file must read back with the same voxels and geometry.
 */
#include "itkTagImageIO.h"
#include "itksys/SystemTools.hxx"

#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace
{
/** Inputs announcing more voxel bytes than this are not read: the reader
 * already refuses data larger than the file, this keeps a run fast even if
 * libFuzzer is given a large -max_len. */
constexpr itk::SizeValueType MaximumReadBytes = 16 * 1024 * 1024;

/** Images up to this size are also written back and read again. */
constexpr itk::SizeValueType MaximumRoundTripBytes = 1024 * 1024;

[[noreturn]] void
Fail(const std::string & problem)
{
  std::fprintf(stderr, "itk-tag fuzz finding: %s\n", problem.c_str());
  std::fflush(stderr);
  std::abort();
}

void
Expect(bool condition, const std::string & problem)
{
  if (!condition)
  {
    Fail(problem);
  }
}

void
ExpectNamesFile(const itk::ExceptionObject & exception, const std::string & fileName, const char * where)
{
  const std::string description = exception.GetDescription();
  Expect(description.find(fileName) != std::string::npos,
         std::string(where) + ": the error does not name the file: " + description);
}

/** The promises an accepted header makes to every caller. */
void
CheckHeader(const itk::TagHeader & header, const uint8_t * data, size_t size)
{
  const void * formFeed = std::memchr(data, '\f', size);
  Expect(formFeed != nullptr, "a header was accepted without a form feed");
  const auto expectedHeaderSize = static_cast<itk::SizeValueType>(static_cast<const uint8_t *>(formFeed) - data) + 1;
  Expect(header.HeaderSize == expectedHeaderSize, "the header does not end at the first form feed");
  Expect(header.FileSize == size, "the file size is wrong");
  for (unsigned int i = 0; i < 3; ++i)
  {
    Expect(header.Size[i] > 0, "a zero dimension was accepted");
    Expect(std::isfinite(header.Origin[i]), "a non-finite origin was accepted");
    Expect(std::isfinite(header.Spacing[i]) && header.Spacing[i] > 0.0, "a bad spacing was accepted");
    const auto & axis = header.Direction[i];
    const double norm = std::sqrt(axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]);
    Expect(std::abs(norm - 1.0) < 1e-9, "a direction axis is not a unit vector");
  }
  const itk::SizeValueType dataSize = header.GetDataSize();
  Expect(dataSize / header.GetBytesPerVoxel() / header.Size[0] / header.Size[1] == header.Size[2],
         "the data size overflowed");
  Expect(dataSize <= header.FileSize - header.HeaderSize, "the voxel data does not fit in the file");
}

void
FuzzParser(const uint8_t * data, size_t size)
{
  const auto * bytes = reinterpret_cast<const char *>(data);
  itk::TagHeader::LooksLikeTagHeader(bytes, size);
  const void * formFeed = std::memchr(data, '\f', size);
  if (formFeed == nullptr)
  {
    return;
  }
  const auto        length = static_cast<itk::SizeValueType>(static_cast<const uint8_t *>(formFeed) - data) + 1;
  const std::string fileName = "in-memory.tag";
  try
  {
    CheckHeader(itk::TagHeader::Parse(bytes, length, size, fileName), data, size);
  }
  catch (const itk::ExceptionObject & exception)
  {
    ExpectNamesFile(exception, fileName, "TagHeader::Parse");
  }
}

/** A file holding the fuzz input, reached by a path as hosts reach files. */
class MemoryFile
{
public:
  MemoryFile()
  {
    m_Descriptor = memfd_create("itk-tag-fuzz", MFD_CLOEXEC);
    Expect(m_Descriptor >= 0, "memfd_create failed");
    m_Path = "/proc/self/fd/" + std::to_string(m_Descriptor);
  }

  void
  Fill(const uint8_t * data, size_t size)
  {
    Expect(ftruncate(m_Descriptor, 0) == 0, "ftruncate failed");
    size_t written = 0;
    while (written < size)
    {
      const ssize_t count = pwrite(m_Descriptor, data + written, size - written, static_cast<off_t>(written));
      Expect(count > 0, "pwrite failed");
      written += static_cast<size_t>(count);
    }
  }

  const std::string &
  GetPath() const
  {
    return m_Path;
  }

private:
  int         m_Descriptor{ -1 };
  std::string m_Path;
};

/** A folder of its own for the writer, removed when the process exits. */
class TemporaryFolder
{
public:
  TemporaryFolder()
  {
    // Memory-backed when the system has /dev/shm: a round trip per input.
    const std::string parent = itksys::SystemTools::FileIsDirectory("/dev/shm") ? "/dev/shm" : "/tmp";
    std::string       pattern = parent + "/itk-tag-fuzz-XXXXXX";
    Expect(mkdtemp(&pattern[0]) != nullptr, "mkdtemp failed");
    m_Path = pattern;
  }

  ~TemporaryFolder() { itksys::SystemTools::RemoveADirectory(m_Path); }

  const std::string &
  GetPath() const
  {
    return m_Path;
  }

private:
  std::string m_Path;
};

std::vector<uint8_t>
ReadAll(itk::TagImageIO * io)
{
  itk::ImageIORegion region(3);
  for (unsigned int i = 0; i < 3; ++i)
  {
    region.SetIndex(i, 0);
    region.SetSize(i, io->GetDimensions(i));
  }
  io->SetIORegion(region);
  std::vector<uint8_t> buffer(io->GetImageSizeInBytes());
  io->Read(buffer.data());
  return buffer;
}

/** Writes what was read to a real folder (the writer renames a temporary
 * file into place) and checks it reads back the same. */
void
RoundTrip(const itk::TagImageIO * source, const std::vector<uint8_t> & voxels)
{
  static const TemporaryFolder folder;
  const std::string            fileName = folder.GetPath() + "/round-trip.tag";

  auto writer = itk::TagImageIO::New();
  writer->SetFileName(fileName);
  writer->SetNumberOfDimensions(3);
  itk::ImageIORegion region(3);
  for (unsigned int i = 0; i < 3; ++i)
  {
    writer->SetDimensions(i, source->GetDimensions(i));
    writer->SetOrigin(i, source->GetOrigin(i));
    writer->SetSpacing(i, source->GetSpacing(i));
    writer->SetDirection(i, source->GetDirection(i));
    region.SetIndex(i, 0);
    region.SetSize(i, source->GetDimensions(i));
  }
  writer->SetComponentType(source->GetComponentType());
  writer->SetPixelType(itk::IOPixelEnum::SCALAR);
  writer->SetNumberOfComponents(1);
  writer->SetMetaDataDictionary(source->GetMetaDataDictionary());
  writer->SetIORegion(region);
  try
  {
    writer->Write(voxels.data());
  }
  catch (const itk::ExceptionObject & exception)
  {
    // Refusing geometry that 4 decimals cannot hold is allowed; silence is not.
    ExpectNamesFile(exception, fileName, "TagImageIO::Write");
    return;
  }

  auto reader = itk::TagImageIO::New();
  reader->SetFileName(fileName);
  try
  {
    Expect(reader->CanReadFile(fileName.c_str()), "a written file is not claimed by CanReadFile");
    reader->ReadImageInformation();
  }
  catch (const itk::ExceptionObject & exception)
  {
    Fail(std::string("a written file cannot be read back: ") + exception.GetDescription());
  }
  Expect(reader->GetComponentType() == source->GetComponentType(), "round trip: component type");
  for (unsigned int i = 0; i < 3; ++i)
  {
    Expect(reader->GetDimensions(i) == source->GetDimensions(i), "round trip: size");
    // 4 decimals: a stored value may move by half of 1e-4.
    const double tolerance = 5.1e-5 + 1e-15 * std::abs(source->GetOrigin(i));
    Expect(std::abs(reader->GetOrigin(i) - source->GetOrigin(i)) <= tolerance, "round trip: origin");
    const double spacingTolerance = 5.1e-5 + 1e-15 * source->GetSpacing(i);
    Expect(std::abs(reader->GetSpacing(i) - source->GetSpacing(i)) <= spacingTolerance, "round trip: spacing");
  }
  // Row and column directions are stored; the slice axis is derived from them.
  for (unsigned int axis = 0; axis < 2; ++axis)
  {
    for (unsigned int j = 0; j < 3; ++j)
    {
      Expect(std::abs(reader->GetDirection(axis)[j] - source->GetDirection(axis)[j]) <= 2e-4, "round trip: direction");
    }
  }
  Expect(ReadAll(reader) == voxels, "round trip: the voxels changed");
}

void
FuzzReader(const uint8_t * data, size_t size)
{
  static MemoryFile file;
  file.Fill(data, size);
  const std::string & fileName = file.GetPath();

  auto       io = itk::TagImageIO::New();
  const bool claimed = io->CanReadFile(fileName.c_str());
  io->SetFileName(fileName);
  try
  {
    // Direct callers (the Python reader, the command line) skip CanReadFile.
    io->ReadImageInformation();
  }
  catch (const itk::ExceptionObject & exception)
  {
    ExpectNamesFile(exception, fileName, "ReadImageInformation");
    return;
  }
  CheckHeader(io->GetHeader(), data, size);
  Expect(claimed, "ReadImageInformation accepts a file that CanReadFile refuses");
  Expect(io->GetImageSizeInBytes() == io->GetHeader().GetDataSize(), "the image size differs from the header's");
  if (io->GetImageSizeInBytes() > MaximumReadBytes)
  {
    return;
  }

  std::vector<uint8_t> voxels;
  try
  {
    voxels = ReadAll(io);
  }
  catch (const itk::ExceptionObject & exception)
  {
    Fail(std::string("Read fails after ReadImageInformation accepted the file: ") + exception.GetDescription());
  }
  const uint8_t * expected = data + io->GetHeader().HeaderSize;
  if (io->GetComponentType() == itk::IOComponentEnum::USHORT)
  {
    for (size_t i = 0; i < voxels.size() / 2; ++i)
    {
      uint16_t value = 0;
      std::memcpy(&value, voxels.data() + 2 * i, 2);
      Expect(value == (expected[2 * i] | (expected[2 * i + 1] << 8)), "a SHORT voxel is not little endian data");
    }
  }
  else
  {
    Expect(std::memcmp(voxels.data(), expected, voxels.size()) == 0, "the voxels are not the bytes after the header");
  }

  if (voxels.size() <= MaximumRoundTripBytes)
  {
    RoundTrip(io, voxels);
  }
}
} // namespace

extern "C" int
LLVMFuzzerTestOneInput(const uint8_t * data, size_t size)
{
  try
  {
    FuzzParser(data, size);
    FuzzReader(data, size);
  }
  catch (const std::exception & exception)
  {
    // Hosts catch itk::ExceptionObject; anything else may end the process.
    Fail(std::string("an exception other than the expected itk::ExceptionObject escaped: ") + exception.what());
  }
  return 0;
}

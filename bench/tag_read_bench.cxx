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
 * One measured read for bench/run.py, in C++ (ITK as linked, no Python):
 *
 *   tag_read_bench read  FILE             whole image through itk::ImageFileReader
 *   tag_read_bench slice FILE K           slice K only (ExtractImageFilter pulls it)
 *   tag_read_bench raw   FILE OFFSET SIZE read() of SIZE bytes at OFFSET (the limit)
 *
 * "read-thp" and "raw-thp" do the same into a buffer advised for transparent
 * huge pages (madvise MADV_HUGEPAGE), as numpy does for large arrays: an
 * experiment for a change of TagImageIO::Read, which can advise ITK's buffer.
 *
 * The operation runs once to warm up, then three times measured. Prints one
 * JSON line: median seconds, largest peak RSS above the RSS just before the
 * read, median bytes read (/proc/self/io rchar), and a few voxels for the
 * caller to check.
 */
#include "itkExtractImageFilter.h"
#include "itkImage.h"
#include "itkImageFileReader.h"
#include "itkTagImageIO.h"
#include "itkTagImageIOFactory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace
{
using ImageType = itk::Image<unsigned char, 3>;

/** A field of /proc/self/status ("VmRSS", "VmHWM") in bytes. */
long long
StatusBytes(const std::string & field)
{
  std::ifstream status("/proc/self/status");
  std::string   line;
  while (std::getline(status, line))
  {
    if (line.compare(0, field.size() + 1, field + ":") == 0)
    {
      return std::atoll(line.c_str() + field.size() + 1) * 1024;
    }
  }
  return -1;
}

long long
ReadChars()
{
  std::ifstream io("/proc/self/io");
  std::string   key;
  long long     value = 0;
  while (io >> key >> value)
  {
    if (key == "rchar:")
    {
      return value;
    }
  }
  return -1;
}

/** Asks for transparent huge pages on the whole pages of [buffer, buffer + size),
 * before anything touches them: page faults then map 2 MiB at a time. */
void
AdviseHugePages(void * buffer, size_t size)
{
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto start = (reinterpret_cast<uintptr_t>(buffer) + page - 1) & ~(page - 1);
  const auto end = (reinterpret_cast<uintptr_t>(buffer) + size) & ~(page - 1);
  if (end > start)
  {
    ::madvise(reinterpret_cast<void *>(start), end - start, MADV_HUGEPAGE);
  }
}

/** TagImageIO advising the destination buffer for huge pages before reading into it. */
class HugePageTagImageIO : public itk::TagImageIO
{
public:
  using Self = HugePageTagImageIO;
  using Pointer = itk::SmartPointer<Self>;
  itkFactorylessNewMacro(Self);

  void
  Read(void * buffer) override
  {
    AdviseHugePages(buffer, this->GetIORegion().GetNumberOfPixels() * this->GetPixelSize());
    TagImageIO::Read(buffer);
  }
};

/** Makes VmHWM start again from the current RSS, so that it measures this read only. */
void
ResetPeak()
{
  std::ofstream("/proc/self/clear_refs") << "5";
}

struct Outcome
{
  std::vector<int> samples;
  // Keeps the image alive until the peak RSS has been read.
  ImageType::Pointer               image;
  std::unique_ptr<unsigned char[]> raw;
};

ImageType::Pointer
ReadRegion(const std::string & fileName, long slice, bool hugePages)
{
  auto reader = itk::ImageFileReader<ImageType>::New();
  reader->SetFileName(fileName);
  if (hugePages)
  {
    reader->SetImageIO(HugePageTagImageIO::New());
  }
  if (slice < 0)
  {
    reader->Update();
    return reader->GetOutput();
  }
  reader->UpdateOutputInformation();
  ImageType::RegionType region = reader->GetOutput()->GetLargestPossibleRegion();
  region.SetIndex(2, slice);
  region.SetSize(2, 1);
  auto extract = itk::ExtractImageFilter<ImageType, ImageType>::New();
  extract->SetInput(reader->GetOutput());
  extract->SetExtractionRegion(region);
  extract->SetDirectionCollapseToIdentity();
  extract->Update();
  return extract->GetOutput();
}

Outcome
Run(const std::string & mode, char ** argv)
{
  Outcome outcome;
  if (mode == "raw" || mode == "raw-thp")
  {
    const auto offset = static_cast<off_t>(std::atoll(argv[3]));
    const auto size = static_cast<size_t>(std::atoll(argv[4]));
    const int  fd = ::open(argv[2], O_RDONLY);
    if (fd < 0)
    {
      throw std::runtime_error(std::string("cannot open ") + argv[2]);
    }
    // Uninitialised, as ITK allocates image buffers.
    outcome.raw.reset(new unsigned char[size]);
    if (mode == "raw-thp")
    {
      AdviseHugePages(outcome.raw.get(), size);
    }
    size_t done = 0;
    while (done < size)
    {
      const ssize_t got = ::pread(fd, outcome.raw.get() + done, size - done, offset + static_cast<off_t>(done));
      if (got <= 0)
      {
        ::close(fd);
        throw std::runtime_error("short read");
      }
      done += static_cast<size_t>(got);
    }
    ::close(fd);
    outcome.samples = { outcome.raw[0], outcome.raw[size / 2], outcome.raw[size - 1] };
    return outcome;
  }
  const long slice = mode == "slice" ? std::atol(argv[3]) : -1;
  outcome.image = ReadRegion(argv[2], slice, mode == "read-thp");
  const ImageType::RegionType region = outcome.image->GetBufferedRegion();
  const ImageType::IndexType  first = region.GetIndex();
  ImageType::IndexType        middle = first;
  ImageType::IndexType        last = first;
  for (unsigned int i = 0; i < 3; ++i)
  {
    middle[i] += static_cast<long>(region.GetSize(i) / 2);
    last[i] += static_cast<long>(region.GetSize(i)) - 1;
  }
  outcome.samples = { outcome.image->GetPixel(first), outcome.image->GetPixel(middle), outcome.image->GetPixel(last) };
  return outcome;
}
} // namespace

int
main(int argc, char ** argv)
{
  const std::string mode = argc > 1 ? argv[1] : "";
  const bool        read = mode == "read" || mode == "read-thp";
  const bool        raw = mode == "raw" || mode == "raw-thp";
  if (!((read && argc == 3) || (mode == "slice" && argc == 4) || (raw && argc == 5)))
  {
    std::cerr << "usage: tag_read_bench read|read-thp FILE | slice FILE K | raw|raw-thp FILE OFFSET SIZE\n";
    return 2;
  }
  try
  {
    itk::TagImageIOFactory::RegisterOneFactory();
    Run(mode, argv);

    constexpr int          repeats = 3;
    std::vector<double>    seconds;
    std::vector<long long> chars;
    long long              peakExtra = 0;
    long long              baseline = 0;
    std::vector<int>       samples;
    for (int i = 0; i < repeats; ++i)
    {
      ResetPeak();
      baseline = StatusBytes("VmRSS");
      const long long charsBefore = ReadChars();
      const auto      start = std::chrono::steady_clock::now();
      const Outcome   outcome = Run(mode, argv);
      const auto      stop = std::chrono::steady_clock::now();
      chars.push_back(ReadChars() - charsBefore);
      peakExtra = std::max(peakExtra, StatusBytes("VmHWM") - baseline);
      seconds.push_back(std::chrono::duration<double>(stop - start).count());
      samples = outcome.samples;
    }
    std::sort(seconds.begin(), seconds.end());
    std::sort(chars.begin(), chars.end());

    std::ostringstream json;
    json << "{\"seconds\": " << seconds[repeats / 2] << ", \"peak_extra\": " << peakExtra
         << ", \"baseline_rss\": " << baseline << ", \"rchar\": " << chars[repeats / 2] << ", \"samples\": [";
    for (size_t i = 0; i < samples.size(); ++i)
    {
      json << (i ? ", " : "") << samples[i];
    }
    json << "]}";
    std::cout << json.str() << std::endl;
  }
  catch (const std::exception & error)
  {
    std::cerr << "tag_read_bench: " << error.what() << std::endl;
    return 1;
  }
  return 0;
}

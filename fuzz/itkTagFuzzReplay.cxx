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
 * Runs the fuzz harness (itkTagFuzzer.cxx) on given files or folders of
 * files, without libFuzzer: ctest replays the inputs the fuzzer once failed
 * on (fuzz/regressions) with every compiler, so a fixed finding stays fixed.
 * The harness aborts on a broken promise; a clean run returns 0.
 */
#include "itksys/Directory.hxx"
#include "itksys/SystemTools.hxx"

#include <cstdint>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int
LLVMFuzzerTestOneInput(const uint8_t * data, size_t size);

namespace
{
void
Replay(const std::string & fileName)
{
  std::ifstream     file(fileName.c_str(), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  // A copy of exactly the input's size, so reading past it is caught by ASan.
  std::vector<uint8_t> input(bytes.begin(), bytes.end());
  std::cout << "replaying " << fileName << " (" << input.size() << " bytes)" << std::endl;
  static uint8_t nothing = 0;
  LLVMFuzzerTestOneInput(input.empty() ? &nothing : input.data(), input.size());
}
} // namespace

int
main(int argc, char * argv[])
{
  if (argc < 2)
  {
    std::cerr << "usage: " << argv[0] << " <file or folder>..." << std::endl;
    return EXIT_FAILURE;
  }
  size_t count = 0;
  for (int i = 1; i < argc; ++i)
  {
    if (!itksys::SystemTools::FileIsDirectory(argv[i]))
    {
      Replay(argv[i]);
      ++count;
      continue;
    }
    itksys::Directory folder;
    folder.Load(argv[i]);
    for (unsigned long j = 0; j < folder.GetNumberOfFiles(); ++j)
    {
      const std::string path = std::string(argv[i]) + "/" + folder.GetFile(j);
      if (!itksys::SystemTools::FileIsDirectory(path))
      {
        Replay(path);
        ++count;
      }
    }
  }
  std::cout << count << " input(s) replayed without a finding" << std::endl;
  return count > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

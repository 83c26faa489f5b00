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
// Robustness of the C++ entry points: the malformed-input table of
// test/python/malformed_cases.py through TagImageIO and through a host that
// loads the plugin from ITK_AUTOLOAD_PATH, the writer on a read-only folder
// and on a full disk, and regressions of what the fuzzer found.
//
// Every read or write runs in a child process with a memory limit and a
// timeout: a crash, a hang or a runaway allocation fails the case instead of
// taking the test program down with it.
//
// Usage:
//   itkTagMalformedTest Direct <manifest.tsv>
//   itkTagMalformedTest PluginHost <manifest.tsv> <host program>
//   itkTagMalformedTest WriteReadOnlyFolder <scratch dir>
//   itkTagMalformedTest WriteFullDisk <scratch dir>
//   itkTagMalformedTest FuzzFindings <scratch dir>
// The exit code 77 means skipped (ctest SKIP_RETURN_CODE), with the reason
// printed.
#include "itkTagTestSupport.h"

#include <linux/capability.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define ITK_TAG_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ITK_TAG_TEST_ASAN 1
#endif
#endif

namespace
{
using namespace itk::tagtest;

constexpr int SkipCode = 77;

/** A child process may use this much address space; a 200-byte file must
 * not make a reader allocate more. */
constexpr rlim_t       MemoryLimit = rlim_t{ 1 } << 30;
constexpr unsigned int TimeLimitSeconds = 60;

struct ManifestCase
{
  std::string Name;
  std::string Path;
  std::string Kind;
  bool        Claimed;
  std::string Problem;
};

std::vector<ManifestCase>
ReadManifest(const std::string & fileName)
{
  std::vector<ManifestCase> cases;
  std::istringstream        lines(ReadBytes(fileName));
  std::string               line;
  while (std::getline(lines, line))
  {
    std::vector<std::string> fields;
    std::istringstream       columns(line);
    std::string              field;
    while (std::getline(columns, field, '\t'))
    {
      fields.push_back(field);
    }
    Check(fields.size() == 5, "manifest line with 5 fields: " + line);
    cases.push_back({ fields[0], fields[1], fields[2], fields[3] == "1", fields[4] });
  }
  Check(!cases.empty(), "the manifest lists cases");
  return cases;
}

std::string
Lower(std::string text)
{
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

bool
Contains(const std::string & text, const std::string & part)
{
  return Lower(text).find(Lower(part)) != std::string::npos;
}

/** Root is never refused a permission. Children that must meet one run
 * without the capabilities that override file permissions: root then gets
 * the owner's permissions like anyone else (the files and folders involved
 * belong to the test's user), and still reaches everything else, wherever
 * the build tree lives. */
struct Identity
{
  bool RespectPermissions{ false };
};

Identity
Unprivileged()
{
  return Identity{ geteuid() == 0 };
}

struct ChildResult
{
  bool        Exited{ false };
  int         Status{ 0 }; // exit code, or the signal that ended the child
  std::string Output;      // stdout and stderr

  std::string
  Describe() const
  {
    std::ostringstream text;
    if (Exited)
    {
      text << "exit code " << Status;
    }
    else
    {
      text << "killed by signal " << Status << " (" << strsignal(Status) << ")";
      if (Status == SIGALRM)
      {
        text << ": timed out after " << TimeLimitSeconds << " s";
      }
    }
    return text.str() + ", output:\n" + Output;
  }
};

/** Forks; in the child, stdout and stderr go to a pipe and \a inChild runs
 * (it must exec or _exit). The parent collects the output and the status. */
ChildResult
RunForked(const std::function<void()> & inChild)
{
  int pipeEnds[2];
  Check(pipe(pipeEnds) == 0, "pipe");
  const pid_t pid = fork();
  Check(pid >= 0, "fork");
  if (pid == 0)
  {
    dup2(pipeEnds[1], STDOUT_FILENO);
    dup2(pipeEnds[1], STDERR_FILENO);
    close(pipeEnds[0]);
    close(pipeEnds[1]);
    inChild();
    _exit(127);
  }
  close(pipeEnds[1]);
  ChildResult result;
  char        buffer[4096];
  ssize_t     count = 0;
  while ((count = read(pipeEnds[0], buffer, sizeof(buffer))) != 0)
  {
    if (count < 0 && errno == EINTR)
    {
      continue;
    }
    Check(count > 0, "reading the child's output");
    result.Output.append(buffer, static_cast<size_t>(count));
  }
  close(pipeEnds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
  {
    Check(errno == EINTR, "waitpid");
  }
  result.Exited = WIFEXITED(status);
  result.Status = result.Exited ? WEXITSTATUS(status) : WTERMSIG(status);
  return result;
}

/** Runs \a arguments in a child with the memory and time limits, optionally
 * as another user, with \a environment added. */
ChildResult
RunChild(const std::vector<std::string> &                         arguments,
         const Identity &                                         identity = Identity(),
         const std::vector<std::pair<std::string, std::string>> & environment = {})
{
  std::vector<char *> argv;
  for (const std::string & argument : arguments)
  {
    argv.push_back(const_cast<char *>(argument.c_str()));
  }
  argv.push_back(nullptr);
  return RunForked(
    [&]()
    {
      for (const auto & variable : environment)
      {
        setenv(variable.first.c_str(), variable.second.c_str(), 1);
      }
#ifdef ITK_TAG_TEST_ASAN
      // ASan reserves terabytes of address space, so RLIMIT_AS cannot be used:
      // the sanitizer's own cap makes a large allocation abort the child.
      const char *      asanOptions = std::getenv("ASAN_OPTIONS");
      const std::string options = std::string(asanOptions != nullptr ? asanOptions : "") +
                                  ":max_allocation_size_mb=1024:allocator_may_return_null=0";
      setenv("ASAN_OPTIONS", options.c_str(), 1);
#else
      const rlimit memory{ MemoryLimit, MemoryLimit };
      setrlimit(RLIMIT_AS, &memory);
#endif
      // Dropped from the bounding set, the capabilities are not regained by
      // the program executed below.
      if (identity.RespectPermissions && (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 ||
                                          prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0) != 0 ||
                                          prctl(PR_CAPBSET_DROP, CAP_DAC_READ_SEARCH, 0, 0, 0) != 0))
      {
        const char message[] = "cannot drop the capabilities that override file permissions\n";
        (void)!write(STDERR_FILENO, message, sizeof(message) - 1);
        _exit(SkipCode);
      }
      // SIGALRM's default action ends the child, whatever it is doing.
      alarm(TimeLimitSeconds);
      execv(argv[0], argv.data());
    });
}

std::string
SelfPath()
{
  char       path[4096];
  const auto length = readlink("/proc/self/exe", path, sizeof(path) - 1);
  Check(length > 0, "readlink /proc/self/exe");
  return std::string(path, static_cast<size_t>(length));
}

/** The first line of \a output that names \a path: the error as users see it. */
std::string
MessageLine(const std::string & output, const std::string & path)
{
  std::istringstream lines(output);
  std::string        line;
  while (std::getline(lines, line))
  {
    if (line.find(path) != std::string::npos)
    {
      return line;
    }
  }
  return "";
}

/** Runs every manifest case through \a command (given the case's file) and
 * checks its failure: a normal exit with code 1, the file named, and the
 * problem named when the entry point can know it. */
int
RunTable(const std::string &                                                       manifest,
         const std::function<std::vector<std::string>(const std::string & file)> & command,
         const std::vector<std::pair<std::string, std::string>> &                  environment,
         bool                                                                      directEntryPoint)
{
  int failures = 0;
  for (const ManifestCase & c : ReadManifest(manifest))
  {
    const Identity    identity = c.Kind == "unreadable" ? Unprivileged() : Identity();
    const ChildResult result = RunChild(command(c.Path), identity, environment);
    // A host only asks TagImageIO about files it claims; for the others it
    // reports that no reader was found, naming the file.
    const bool  precise = directEntryPoint || c.Claimed;
    std::string problem;
    if (result.Exited && result.Status == SkipCode)
    {
      std::cout << "SKIPPED " << c.Name << ": " << result.Output;
      continue;
    }
    if (result.Output.find("Sanitizer") != std::string::npos ||
        result.Output.find("runtime error:") != std::string::npos)
    {
      problem = "a sanitizer report";
    }
    else if (result.Output.find("\"io\": ") != std::string::npos)
    {
      // itkTagHostProgram read the file: it printed the image it got.
      problem = "the file was read";
    }
    else if (!result.Exited || result.Status != 1)
    {
      problem = "the reader did not fail cleanly";
    }
    else if (!Contains(result.Output, c.Path))
    {
      problem = "the message does not name the file";
    }
    else if (precise && !Contains(result.Output, c.Problem))
    {
      problem = "the message does not say \"" + c.Problem + "\"";
    }
    if (problem.empty())
    {
      std::cout << "ok   " << c.Name << ": " << MessageLine(result.Output, c.Path) << std::endl;
    }
    else
    {
      ++failures;
      std::cout << "FAIL " << c.Name << ": " << problem << "; " << result.Describe() << std::endl;
    }
  }
  std::cout << failures << " case(s) failed" << std::endl;
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/** Child: what a program using TagImageIO directly does. Exit 1 with the
 * message on an exception, 0 if the file was read. */
int
ChildReadDirect(const std::string & fileName)
{
  try
  {
    auto io = itk::TagImageIO::New();
    std::cout << "CanReadFile: " << io->CanReadFile(fileName.c_str()) << std::endl;
    io->SetFileName(fileName);
    io->ReadImageInformation();
    itk::ImageIORegion region(3);
    for (unsigned int i = 0; i < 3; ++i)
    {
      region.SetSize(i, io->GetDimensions(i));
    }
    io->SetIORegion(region);
    std::vector<char> buffer(io->GetImageSizeInBytes());
    io->Read(buffer.data());
  }
  catch (const itk::ExceptionObject & exception)
  {
    std::cout << exception.GetDescription() << std::endl;
    return 1;
  }
  std::cout << "read without an error" << std::endl;
  return 0;
}

// ------------------------------------------------------------------ writer
std::vector<std::string>
FolderEntries(const std::string & folder)
{
  std::vector<std::string> entries;
  auto                     directory = itk::Directory::New();
  directory->Load(folder.c_str());
  for (unsigned long i = 0; i < directory->GetNumberOfFiles(); ++i)
  {
    const std::string name = directory->GetFile(i);
    if (name != "." && name != "..")
    {
      entries.push_back(name);
    }
  }
  std::sort(entries.begin(), entries.end());
  return entries;
}

void
WriteSmallTag(const std::string & fileName, unsigned char value)
{
  auto image = MakeImage<UCharImage>({ 4, 3, 1 });
  image->FillBuffer(value);
  WriteTag<UCharImage>(image, fileName);
}

/** Child: writes a 512x512x2 image over \a fileName, which must fail; exit 0
 * when it failed as it should, 1 otherwise. */
int
ChildWriteMustFail(const std::string & fileName, const std::string & reason)
{
  itk::TagImageIOFactory::RegisterOneFactory();
  const std::string folder = itksys::SystemTools::GetFilenamePath(fileName);
  const std::string before = ReadBytes(fileName);
  const auto        entriesBefore = FolderEntries(folder);
  std::string       message;
  try
  {
    WriteTag<UCharImage>(MakeImage<UCharImage>({ 512, 512, 2 }), fileName);
  }
  catch (const itk::ExceptionObject & exception)
  {
    message = exception.GetDescription();
  }
  std::cout << "message: " << message << std::endl;
  Check(!message.empty(), "the write fails");
  Check(Contains(message, fileName), "the message names the file");
  Check(Contains(message, reason), "the message says \"" + reason + "\"");
  Check(ReadBytes(fileName) == before, "the existing file is intact");
  Check(FolderEntries(folder) == entriesBefore, "no temporary file is left in the folder");
  return 0;
}

int
GuardedChild(const std::function<int()> & child)
{
  try
  {
    return child();
  }
  catch (const std::exception & exception)
  {
    std::cout << exception.what() << std::endl;
    return 1;
  }
}

int
ReportWriteChild(const ChildResult & result, const std::string & what)
{
  if (result.Exited && result.Status == SkipCode)
  {
    std::cout << "SKIPPED " << what << ": " << result.Output;
    return SkipCode;
  }
  std::cout << what << ": " << result.Describe() << std::endl;
  return result.Exited && result.Status == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int
WriteReadOnlyFolder(const std::string & scratch)
{
  itk::TagImageIOFactory::RegisterOneFactory();
  const std::string folder = scratch + "/read-only";
  itksys::SystemTools::RemoveADirectory(folder);
  itksys::SystemTools::MakeDirectory(folder);
  const std::string target = folder + "/existing.tag";
  WriteSmallTag(target, 7);
  Check(chmod(folder.c_str(), 0555) == 0 && chmod(target.c_str(), 0644) == 0, "chmod");
  const ChildResult result =
    RunChild({ SelfPath(), "--child-write-must-fail", target, "Permission denied" }, Unprivileged());
  chmod(folder.c_str(), 0755);
  return ReportWriteChild(result, "write into a read-only folder");
}

/** Child before exec: a private mount namespace with a small tmpfs on
 * \a folder, so the disk fills up without touching the machine's disks. */
[[noreturn]] void
MountSmallTmpfsAndExec(const std::string & folder, const std::vector<std::string> & arguments)
{
  const uid_t user = geteuid();
  const gid_t group = getegid();
  if (unshare(CLONE_NEWNS) != 0)
  {
    // Without CAP_SYS_ADMIN, a user namespace may still allow the mount.
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
    {
      std::cout << "cannot create a mount namespace: " << std::strerror(errno) << std::endl;
      std::_Exit(SkipCode);
    }
    const std::string uidMap = "0 " + std::to_string(user) + " 1\n";
    const std::string gidMap = "0 " + std::to_string(group) + " 1\n";
    try
    {
      WriteBytes("/proc/self/setgroups", "deny");
      WriteBytes("/proc/self/uid_map", uidMap);
      WriteBytes("/proc/self/gid_map", gidMap);
    }
    catch (const std::exception & exception)
    {
      std::cout << "cannot map the user namespace: " << exception.what() << std::endl;
      std::_Exit(SkipCode);
    }
  }
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      mount("tmpfs", folder.c_str(), "tmpfs", 0, "size=64k") != 0)
  {
    std::cout << "cannot mount a tmpfs: " << std::strerror(errno) << std::endl;
    std::_Exit(SkipCode);
  }
  std::vector<char *> argv;
  for (const std::string & argument : arguments)
  {
    argv.push_back(const_cast<char *>(argument.c_str()));
  }
  argv.push_back(nullptr);
  std::cout.flush();
  execv(argv[0], argv.data());
  std::_Exit(127);
}

int
ChildFullDisk(const std::string & folder)
{
  itk::TagImageIOFactory::RegisterOneFactory();
  const std::string target = folder + "/existing.tag";
  WriteSmallTag(target, 7);
  // A small image still fits: the failure below is the disk being full.
  WriteSmallTag(folder + "/fits.tag", 9);
  return ChildWriteMustFail(target, "No space left on device");
}

int
WriteFullDisk(const std::string & scratch)
{
  const std::string folder = scratch + "/full-disk";
  itksys::SystemTools::RemoveADirectory(folder);
  itksys::SystemTools::MakeDirectory(folder);
  const std::string self = SelfPath();
  const ChildResult result = RunForked(
    [&]()
    {
      alarm(TimeLimitSeconds);
      MountSmallTmpfsAndExec(folder, { self, "--child-full-disk", folder });
    });
  Check(FolderEntries(folder).empty(), "the tmpfs lived in the child's mount namespace only");
  return ReportWriteChild(result, "write on a full disk (64 KiB tmpfs)");
}

/** What the fuzzer found (its inputs are in fuzz/regressions), as readable tests. */
int
FuzzFindings(const std::string & scratch)
{
  itk::TagImageIOFactory::RegisterOneFactory();
  const std::string folder = scratch + "/fuzz-findings";
  itksys::SystemTools::RemoveADirectory(folder);
  itksys::SystemTools::MakeDirectory(folder);

  // CanReadFile looked at the first 4 KiB only: a valid tag whose leading
  // comment was longer was refused by every host, yet read by TagImageIO.
  const std::string longComment = folder + "/long-comment.tag";
  WriteBytes(longComment, "* " + std::string(6000, 'c') + "\nx:2 y:1 z:1\n\f\x01\x02");
  Check(itk::TagImageIO::New()->CanReadFile(longComment.c_str()), "a long leading comment is claimed");
  const auto commented = ReadTag<UCharImage>(longComment);
  Check(commented->GetBufferPointer()[0] == 1 && commented->GetBufferPointer()[1] == 2,
        "a tag with a long leading comment reads through ImageFileReader");
  // Comments alone, as far as a header may go, are still not a tag.
  const std::string onlyComments = folder + "/only-comments.tag";
  std::string       comments;
  while (comments.size() < itk::TagHeader::MaximumHeaderSize + 4096)
  {
    comments += "* " + std::string(100, 'c') + "\n";
  }
  WriteBytes(onlyComments, comments);
  Check(!itk::TagImageIO::New()->CanReadFile(onlyComments.c_str()), "comments only are refused");

  // A value as wide as its field ran into the next keyword
  // ("org_x:-12345.1234org_y:..."): the file could not be read back.
  auto                        wide = MakeImage<UCharImage>({ 4, 3, 1 });
  const UCharImage::PointType origin{ { -12345.1234, 100000.25, -1.01e35 } };
  wide->SetOrigin(origin);
  const std::string wideFile = folder + "/wide-values.tag";
  WriteTag<UCharImage>(wide, wideFile);
  const std::string header = ReadBytes(wideFile).substr(0, ReadBytes(wideFile).find('\f'));
  Check(header.find("org_x:-12345.1234 org_y:100000.2500 org_z:-10099999999999999") != std::string::npos,
        "wide values are separated: " + header);
  const auto back = ReadTag<UCharImage>(wideFile);
  for (unsigned int i = 0; i < 3; ++i)
  {
    CheckNear(back->GetOrigin()[i], origin[i], 5e-5 + 1e-15 * std::abs(origin[i]), "wide origin read back");
  }

  // Metadata long enough to push the form feed past the 64 KiB a reader
  // scans was written, giving a file no reader accepts.
  auto image = MakeImage<UCharImage>({ 4, 3, 1 });
  itk::EncapsulateMetaData<std::string>(image->GetMetaDataDictionary(), "note", std::string(70000, 'a'));
  const std::string longFile = folder + "/long-metadata.tag";
  std::string       message;
  try
  {
    WriteTag<UCharImage>(image, longFile);
  }
  catch (const itk::ExceptionObject & exception)
  {
    message = exception.GetDescription();
  }
  Check(Contains(message, longFile) && Contains(message, "more than the 65536"),
        "a header too long to be read back is refused: " + message);
  Check(FolderEntries(folder) == std::vector<std::string>{ "long-comment.tag", "only-comments.tag", "wide-values.tag" },
        "nothing is written for it");
  std::cout << "FuzzFindings: passed" << std::endl;
  return EXIT_SUCCESS;
}

int
Usage(const char * program)
{
  std::cerr << "usage: " << program << " Direct <manifest.tsv>\n"
            << "       " << program << " PluginHost <manifest.tsv> <host program>\n"
            << "       " << program << " WriteReadOnlyFolder <scratch dir>\n"
            << "       " << program << " WriteFullDisk <scratch dir>\n"
            << "       " << program << " FuzzFindings <scratch dir>" << std::endl;
  return EXIT_FAILURE;
}
} // namespace

int
main(int argc, char * argv[])
{
  const std::string mode = argc > 1 ? argv[1] : "";
  // Children, started by the modes below.
  if (mode == "--child-read" && argc == 3)
  {
    return ChildReadDirect(argv[2]);
  }
  if (mode == "--child-write-must-fail" && argc == 4)
  {
    return GuardedChild([&] { return ChildWriteMustFail(argv[2], argv[3]); });
  }
  if (mode == "--child-full-disk" && argc == 3)
  {
    return GuardedChild([&] { return ChildFullDisk(argv[2]); });
  }

  try
  {
    if (mode == "Direct" && argc == 3)
    {
      const std::string self = SelfPath();
      return RunTable(
        argv[2],
        [&](const std::string & file) {
          return std::vector<std::string>{ self, "--child-read", file };
        },
        {},
        true);
    }
    if (mode == "PluginHost" && argc == 4)
    {
      const char * autoload = std::getenv("ITK_AUTOLOAD_PATH");
      Check(autoload != nullptr, "ITK_AUTOLOAD_PATH is set");
      const std::string host = argv[3];
      return RunTable(
        argv[2],
        [&](const std::string & file) {
          return std::vector<std::string>{ host, file };
        },
        { { "ITK_AUTOLOAD_PATH", autoload } },
        false);
    }
    if (mode == "WriteReadOnlyFolder" && argc == 3)
    {
      return WriteReadOnlyFolder(argv[2]);
    }
    if (mode == "WriteFullDisk" && argc == 3)
    {
      return WriteFullDisk(argv[2]);
    }
    if (mode == "FuzzFindings" && argc == 3)
    {
      return FuzzFindings(argv[2]);
    }
  }
  catch (const std::exception & exception)
  {
    std::cerr << mode << ": " << exception.what() << std::endl;
    return EXIT_FAILURE;
  }
  return Usage(argv[0]);
}

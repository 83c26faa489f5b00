// The plugin's entry point, called by a program whose "itk version" string
// names an ITK the plugin does not serve: it must print one line naming
// itk-tag and that version, and hand over a factory the host can register
// and use (one that makes nothing), not a null or foreign object.
//
// Usage: itkTagUnservedHost <plugin folder> <file.tag>
#include "itkImageIOFactory.h"
#include "itkObjectFactoryBase.h"

#include <cstdio>
#include <dlfcn.h>
#include <iostream>
#include <string>

// What the entry library reads to tell the host's ITK version.
extern const char HostVersion[];
const char        HostVersion[] = "itk version 4.13.3";

int
main(int argc, char * argv[])
{
  if (argc != 3)
  {
    std::cerr << "usage: " << argv[0] << " <plugin folder> <file.tag>" << std::endl;
    return 2;
  }
  std::puts(HostVersion);
  const std::string entryPath = std::string(argv[1]) + "/libIOTagPlugin.so";
  void *            entry = dlopen(entryPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (entry == nullptr)
  {
    std::cerr << dlerror() << std::endl;
    return 2;
  }
  using LoadFunction = itk::ObjectFactoryBase * (*)();
  auto load = reinterpret_cast<LoadFunction>(dlsym(entry, "itkLoad"));
  itk::ObjectFactoryBase * factory = load();
  if (factory == nullptr)
  {
    std::cerr << "itkLoad() returned null" << std::endl;
    return 1;
  }
  itk::ObjectFactoryBase::RegisterFactory(factory);
  std::cout << "registered: " << factory->GetDescription() << std::endl;
  auto io = itk::ImageIOFactory::CreateImageIO(argv[2], itk::CommonEnums::IOFileMode::ReadMode);
  std::cout << "ImageIO for the tag: " << (io ? io->GetNameOfClass() : "none") << std::endl;
  itk::ObjectFactoryBase::UnRegisterFactory(factory);
  return 0;
}

// What a test host does with ITK: read and write an image through whatever
// factories are registered (ITK_AUTOLOAD_PATH), and look at its metadata.
// Linked with -Wl,-Map against a full static ITK, it yields host.txt (see
// superbuild/README.md); it is never part of a build.
#include "itkImage.h"
#include "itkImageFileReader.h"
#include "itkImageFileWriter.h"
#include "itkMetaDataObject.h"

#include <iostream>

template <typename TPixel>
int
Copy(const char * input, const char * output)
{
  using ImageType = itk::Image<TPixel, 3>;
  auto reader = itk::ImageFileReader<ImageType>::New();
  reader->SetFileName(input);
  auto writer = itk::ImageFileWriter<ImageType>::New();
  writer->SetInput(reader->GetOutput());
  writer->SetFileName(output);
  writer->Update();
  std::string value;
  itk::ExposeMetaData<std::string>(reader->GetOutput()->GetMetaDataDictionary(), "x", value);
  std::cout << reader->GetImageIO()->GetNameOfClass() << reader->GetOutput()->GetLargestPossibleRegion() << value;
  return 0;
}

int
main(int argc, char * argv[])
{
  try
  {
    return argc > 3 ? Copy<unsigned short>(argv[1], argv[2]) : Copy<unsigned char>(argv[1], argv[2]);
  }
  catch (const itk::ExceptionObject & error)
  {
    std::cerr << error << '\n';
    return 1;
  }
}

#pragma once
// Images from files (internal to rootfs/image; pull.cpp dispatches):
//   oci:DIR[:NAME]          an OCI image layout (index.json, blobs/)
//   oci-archive:FILE[:NAME] a tar of one, unpacked under the store's tmp/
//   docker-archive:FILE[:REPO:TAG]  `docker save` / skopeo output
//                           (manifest.json + config + layer tars),
//                           recorded as an OCI image
// NAME is the annotation org.opencontainers.image.ref.name of index.json;
// without it the layout must hold one image. Every blob is verified on its
// way into the store.

#include "progress.hpp"
#include "ref.hpp"
#include "store.hpp"

namespace rrun::image {

ImageRecord pull_oci_layout(const Store& store, const ImageRef& ref, Progress& progress);
ImageRecord pull_oci_archive(const Store& store, const ImageRef& ref, Progress& progress);
ImageRecord pull_docker_archive(const Store& store, const ImageRef& ref, Progress& progress);

}  // namespace rrun::image

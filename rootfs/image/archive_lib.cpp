#include "archive_lib.hpp"

#include "libs.hpp"

namespace rrun::image {

const ArchiveApi& libarchive() {
  static const ArchiveApi api = [] {
    ArchiveApi a{};
    load_symbols("libarchive.so.13", "libarchive13",
                 {{reinterpret_cast<void**>(&a.read_new), "archive_read_new"},
                  {reinterpret_cast<void**>(&a.read_free), "archive_read_free"},
                  {reinterpret_cast<void**>(&a.filter_none), "archive_read_support_filter_none"},
                  {reinterpret_cast<void**>(&a.filter_gzip), "archive_read_support_filter_gzip"},
                  {reinterpret_cast<void**>(&a.filter_zstd), "archive_read_support_filter_zstd"},
                  {reinterpret_cast<void**>(&a.format_raw), "archive_read_support_format_raw"},
                  {reinterpret_cast<void**>(&a.format_tar), "archive_read_support_format_tar"},
                  {reinterpret_cast<void**>(&a.filter_all), "archive_read_support_filter_all"},
                  {reinterpret_cast<void**>(&a.format_empty), "archive_read_support_format_empty"},
                  {reinterpret_cast<void**>(&a.open), "archive_read_open"},
                  {reinterpret_cast<void**>(&a.open_filename), "archive_read_open_filename"},
                  {reinterpret_cast<void**>(&a.next_header), "archive_read_next_header"},
                  {reinterpret_cast<void**>(&a.data), "archive_read_data"},
                  {reinterpret_cast<void**>(&a.data_block), "archive_read_data_block"},
                  {reinterpret_cast<void**>(&a.error_string), "archive_error_string"},
                  {reinterpret_cast<void**>(&a.pathname), "archive_entry_pathname"},
                  {reinterpret_cast<void**>(&a.hardlink), "archive_entry_hardlink"},
                  {reinterpret_cast<void**>(&a.symlink), "archive_entry_symlink"},
                  {reinterpret_cast<void**>(&a.filetype), "archive_entry_filetype"},
                  {reinterpret_cast<void**>(&a.perm), "archive_entry_perm"},
                  {reinterpret_cast<void**>(&a.uid), "archive_entry_uid"},
                  {reinterpret_cast<void**>(&a.gid), "archive_entry_gid"},
                  {reinterpret_cast<void**>(&a.size), "archive_entry_size"},
                  {reinterpret_cast<void**>(&a.mtime), "archive_entry_mtime"},
                  {reinterpret_cast<void**>(&a.mtime_nsec), "archive_entry_mtime_nsec"},
                  {reinterpret_cast<void**>(&a.mtime_is_set), "archive_entry_mtime_is_set"},
                  {reinterpret_cast<void**>(&a.atime), "archive_entry_atime"},
                  {reinterpret_cast<void**>(&a.atime_nsec), "archive_entry_atime_nsec"},
                  {reinterpret_cast<void**>(&a.atime_is_set), "archive_entry_atime_is_set"},
                  {reinterpret_cast<void**>(&a.xattr_reset), "archive_entry_xattr_reset"},
                  {reinterpret_cast<void**>(&a.xattr_next), "archive_entry_xattr_next"}});
    return a;
  }();
  return api;
}

}  // namespace rrun::image

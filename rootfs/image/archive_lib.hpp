#pragma once
// The part of libarchive rrun uses (layers: extract.cpp; oci-archive and
// docker-archive files: archive_dir.cpp), loaded with dlopen on first use
// (libs.hpp): one table for both.

#include <archive.h>
#include <archive_entry.h>

namespace rrun::image {

struct ArchiveApi {
  decltype(&::archive_read_new) read_new;
  decltype(&::archive_read_free) read_free;
  decltype(&::archive_read_support_filter_none) filter_none;
  decltype(&::archive_read_support_filter_gzip) filter_gzip;
  decltype(&::archive_read_support_filter_zstd) filter_zstd;
  decltype(&::archive_read_support_format_raw) format_raw;
  decltype(&::archive_read_support_format_tar) format_tar;
  decltype(&::archive_read_support_filter_all) filter_all;  // oci-archive: any compression
  decltype(&::archive_read_support_format_empty) format_empty;
  decltype(&::archive_read_open) open;
  decltype(&::archive_read_open_filename) open_filename;
  decltype(&::archive_read_next_header) next_header;
  decltype(&::archive_read_data) data;
  decltype(&::archive_read_data_block) data_block;
  decltype(&::archive_error_string) error_string;
  decltype(&::archive_entry_pathname) pathname;
  decltype(&::archive_entry_hardlink) hardlink;
  decltype(&::archive_entry_symlink) symlink;
  decltype(&::archive_entry_filetype) filetype;
  decltype(&::archive_entry_perm) perm;
  decltype(&::archive_entry_uid) uid;
  decltype(&::archive_entry_gid) gid;
  decltype(&::archive_entry_size) size;
  decltype(&::archive_entry_mtime) mtime;
  decltype(&::archive_entry_mtime_nsec) mtime_nsec;
  decltype(&::archive_entry_mtime_is_set) mtime_is_set;
  decltype(&::archive_entry_atime) atime;
  decltype(&::archive_entry_atime_nsec) atime_nsec;
  decltype(&::archive_entry_atime_is_set) atime_is_set;
  decltype(&::archive_entry_xattr_reset) xattr_reset;
  decltype(&::archive_entry_xattr_next) xattr_next;
};

// The loaded table; throws os::Error naming libarchive13 when it can't be.
const ArchiveApi& libarchive();

}  // namespace rrun::image

// Streaming Parquet writer: row groups of any length in bounded memory.
//
// pyarrow writes a row group from a table held whole in memory (ParquetWriter.write_table; write_batch
// is write_table too), so a row group of 100,000 pages with their bodies costs ~300 MB of Arrow data,
// and Arrow's buffered row groups (not exposed by pyarrow) keep the group's compressed pages in memory
// (~110 MB for the same group). This writer keeps none of it: each incoming batch is appended, column
// by column, to one unlinked temporary file per column (Arrow IPC streams, in the job's directory).
// When a row group is full its columns are written one after the other, each read back a batch at a
// time and handed to the Parquet column writer, which writes its pages straight to the file. Memory
// holds one batch and one column's open page; the temporary files take one row group of uncompressed
// data on disk (in the page cache) and vanish with the process, whatever happens to it.
//
// Record batches cross from Python by the Arrow C data interface (ArrowSchema / ArrowArray structs),
// errors come back as text. Built by ``python -m datapipeline.native build`` against the installed
// pyarrow's headers and libraries. Column types: the primitive ones (int64, timestamp, boolean, string)
// and lists of a primitive type, each field nullable or not.
#include <arrow/api.h>
#include <arrow/c/bridge.h>
#include <arrow/io/file.h>
#include <arrow/ipc/reader.h>
#include <arrow/ipc/writer.h>
#include <arrow/util/key_value_metadata.h>
#include <fcntl.h>
#include <parquet/arrow/schema.h>
#include <parquet/column_writer.h>
#include <parquet/exception.h>
#include <parquet/file_writer.h>
#include <parquet/properties.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

using arrow::Status;

// One column's batches of the open row group: an IPC stream in an unlinked temporary file.
struct Spill {
  int fd = -1;
  std::shared_ptr<arrow::Schema> schema;  // the one field
  std::shared_ptr<arrow::io::FileOutputStream> out;
  std::shared_ptr<arrow::ipc::RecordBatchWriter> writer;
};

struct Writer {
  std::shared_ptr<arrow::Schema> schema;
  std::shared_ptr<arrow::io::FileOutputStream> out;
  std::shared_ptr<parquet::WriterProperties> properties;
  std::shared_ptr<parquet::ArrowWriterProperties> arrow_properties;
  std::unique_ptr<parquet::ParquetFileWriter> file;
  std::string spill_dir;
  std::vector<Spill> spills;
  int64_t row_group_rows = 0;
  int64_t pending_rows = 0;

  ~Writer() {  // the temporary files' descriptors, also when opening failed half way
    for (auto& spill : spills) {
      if (spill.fd >= 0) close(spill.fd);
    }
  }
};

int report(const std::string& message, char* error, int error_size) {
  std::snprintf(error, error_size, "%s", message.c_str());
  return -1;
}

int report(const Status& status, char* error, int error_size) { return report(status.ToString(), error, error_size); }

arrow::Result<int> temporary_file(const std::string& directory) {
  int fd = open(directory.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  // A filesystem without O_TMPFILE: a named file, removed at once.
  std::string name = directory + "/.parquet-spill-XXXXXX";
  std::vector<char> path(name.begin(), name.end());
  path.push_back('\0');
  fd = mkostemp(path.data(), O_CLOEXEC);
  if (fd < 0) return Status::IOError("cannot create a temporary file in ", directory, ": ", std::strerror(errno));
  unlink(path.data());
  return fd;
}

Status open_spill(Spill& spill) {
  if (ftruncate(spill.fd, 0) != 0 || lseek(spill.fd, 0, SEEK_SET) != 0)
    return Status::IOError("cannot reset a temporary file: ", std::strerror(errno));
  int fd = dup(spill.fd);
  if (fd < 0) return Status::IOError("dup: ", std::strerror(errno));
  ARROW_ASSIGN_OR_RAISE(spill.out, arrow::io::FileOutputStream::Open(fd));
  ARROW_ASSIGN_OR_RAISE(spill.writer, arrow::ipc::MakeStreamWriter(spill.out, spill.schema));
  return Status::OK();
}

// Definition levels of a flat column (0: null, 1: a value), or none when the field is required.
Status write_flat(parquet::ColumnWriter* column, const arrow::Array& values, parquet::ArrowWriteContext* context) {
  const int16_t max_definition = column->descr()->max_definition_level();
  std::vector<int16_t> definitions;
  if (max_definition > 0) {
    definitions.resize(values.length());
    for (int64_t i = 0; i < values.length(); ++i) definitions[i] = values.IsNull(i) ? max_definition - 1 : max_definition;
  }
  return column->WriteArrow(max_definition > 0 ? definitions.data() : nullptr, nullptr, values.length(), values,
                            context, max_definition > 0);
}

// A list column (three-level Parquet list): levels per element, the elements as the leaf array.
// Definition levels: 0 a null list (when the list is nullable), then an empty list, then a null
// element (when elements are nullable), then a value.
Status write_list(parquet::ColumnWriter* column, const arrow::Field& field, const arrow::ListArray& lists,
                  parquet::ArrowWriteContext* context) {
  const auto& element_field = *static_cast<const arrow::ListType&>(*field.type()).value_field();
  const int16_t empty_list = field.nullable() ? 1 : 0;
  const int16_t null_element = empty_list + 1;
  const int16_t value = null_element + (element_field.nullable() ? 1 : 0);
  if (value != column->descr()->max_definition_level())
    return Status::Invalid("unexpected definition levels for the list column ", field.name());
  std::vector<int16_t> definitions, repetitions;
  definitions.reserve(lists.length() * 2);
  repetitions.reserve(lists.length() * 2);
  const auto& elements = *lists.values();
  const int64_t first = lists.value_offset(0);
  int64_t expected = first;
  for (int64_t i = 0; i < lists.length(); ++i) {
    const int64_t start = lists.value_offset(i), end = lists.value_offset(i + 1);
    if (start != expected) return Status::Invalid("a list column whose lists are not contiguous");
    expected = end;
    if (lists.IsNull(i)) {
      if (end != start) return Status::Invalid("a null list that holds elements");
      definitions.push_back(0);
      repetitions.push_back(0);
    } else if (end == start) {
      definitions.push_back(empty_list);
      repetitions.push_back(0);
    } else {
      for (int64_t j = start; j < end; ++j) {
        definitions.push_back(elements.IsNull(j) ? null_element : value);
        repetitions.push_back(j == start ? 0 : 1);
      }
    }
  }
  auto leaves = elements.Slice(first, expected - first);
  return column->WriteArrow(definitions.data(), repetitions.data(), static_cast<int64_t>(definitions.size()),
                            *leaves, context, element_field.nullable());
}

Status write_column(parquet::ColumnWriter* column, const arrow::Field& field, const arrow::Array& values,
                    parquet::ArrowWriteContext* context) {
  if (values.type()->id() == arrow::Type::LIST) {
    return write_list(column, field, static_cast<const arrow::ListArray&>(values), context);
  }
  return write_flat(column, values, context);
}

// Write the open row group from the temporary files, column after column, and empty them.
Status flush_row_group(Writer& w) {
  if (w.pending_rows == 0) return Status::OK();
  parquet::RowGroupWriter* row_group = nullptr;
  PARQUET_CATCH_NOT_OK(row_group = w.file->AppendRowGroup());
  parquet::ArrowWriteContext context(arrow::default_memory_pool(), w.arrow_properties.get());
  for (auto& spill : w.spills) {
    ARROW_RETURN_NOT_OK(spill.writer->Close());
    ARROW_RETURN_NOT_OK(spill.out->Close());
    spill.writer.reset();
    spill.out.reset();
    parquet::ColumnWriter* column = nullptr;
    PARQUET_CATCH_NOT_OK(column = row_group->NextColumn());
    if (lseek(spill.fd, 0, SEEK_SET) != 0) return Status::IOError("lseek: ", std::strerror(errno));
    int fd = dup(spill.fd);
    if (fd < 0) return Status::IOError("dup: ", std::strerror(errno));
    ARROW_ASSIGN_OR_RAISE(auto file, arrow::io::ReadableFile::Open(fd));
    ARROW_ASSIGN_OR_RAISE(auto reader, arrow::ipc::RecordBatchStreamReader::Open(file));
    while (true) {
      std::shared_ptr<arrow::RecordBatch> batch;
      ARROW_RETURN_NOT_OK(reader->ReadNext(&batch));
      if (!batch) break;
      Status written;
      PARQUET_CATCH_NOT_OK(written = write_column(column, *spill.schema->field(0), *batch->column(0), &context));
      ARROW_RETURN_NOT_OK(written);
    }
    ARROW_RETURN_NOT_OK(file->Close());
  }
  PARQUET_CATCH_NOT_OK(row_group->Close());
  w.pending_rows = 0;
  for (auto& spill : w.spills) ARROW_RETURN_NOT_OK(open_spill(spill));
  return Status::OK();
}

Status append(Writer& w, const std::shared_ptr<arrow::RecordBatch>& batch) {
  for (int i = 0; i < batch->num_columns(); ++i) {
    auto piece = arrow::RecordBatch::Make(w.spills[i].schema, batch->num_rows(), {batch->column(i)});
    ARROW_RETURN_NOT_OK(w.spills[i].writer->WriteRecordBatch(*piece));
  }
  w.pending_rows += batch->num_rows();
  return Status::OK();
}

Status write(Writer& w, const std::shared_ptr<arrow::RecordBatch>& batch) {
  int64_t offset = 0;
  while (offset < batch->num_rows()) {
    const int64_t take = std::min(batch->num_rows() - offset, w.row_group_rows - w.pending_rows);
    ARROW_RETURN_NOT_OK(append(w, take == batch->num_rows() ? batch : batch->Slice(offset, take)));
    offset += take;
    if (w.pending_rows >= w.row_group_rows) ARROW_RETURN_NOT_OK(flush_row_group(w));
  }
  return Status::OK();
}

Status finish(Writer& w) {
  ARROW_RETURN_NOT_OK(flush_row_group(w));
  PARQUET_CATCH_NOT_OK(w.file->Close());
  return Status::OK();
}

void close_spills(Writer& w) {
  for (auto& spill : w.spills) {
    if (spill.writer) (void)spill.writer->Close();
    if (spill.out) (void)spill.out->Close();
    if (spill.fd >= 0) close(spill.fd);
    spill.fd = -1;
  }
}

arrow::Result<Writer*> open_writer(int fd, struct ArrowSchema* c_schema, const char* codec, int64_t row_group_rows,
                                   const char* spill_dir, const char* arrow_schema_base64) {
  // fd is ours from here: closed on every error before the output stream owns it.
  auto imported = arrow::ImportSchema(c_schema);
  if (!imported.ok()) {
    close(fd);
    return imported.status();
  }
  auto schema = *imported;
  auto opened = arrow::io::FileOutputStream::Open(fd);
  if (!opened.ok()) {
    close(fd);
    return opened.status();
  }
  auto out = *opened;
  auto writer = std::make_unique<Writer>();
  writer->schema = schema;
  writer->out = out;
  writer->row_group_rows = row_group_rows;
  writer->spill_dir = spill_dir;
  auto compression = std::strcmp(codec, "snappy") == 0 ? arrow::Compression::SNAPPY : arrow::Compression::ZSTD;
  // As pyarrow.parquet.ParquetWriter's defaults: format 2.6, dictionaries, statistics, the Arrow schema stored.
  writer->properties = parquet::WriterProperties::Builder()
                           .compression(compression)
                           ->version(parquet::ParquetVersion::PARQUET_2_6)
                           ->build();
  writer->arrow_properties = parquet::ArrowWriterProperties::Builder().store_schema()->build();
  std::shared_ptr<parquet::SchemaDescriptor> descriptor;
  ARROW_RETURN_NOT_OK(
      parquet::arrow::ToParquetSchema(schema.get(), *writer->properties, *writer->arrow_properties, &descriptor));
  if (descriptor->num_columns() != schema->num_fields())
    return Status::NotImplemented("nested columns other than lists of a primitive type");
  auto root = std::static_pointer_cast<parquet::schema::GroupNode>(descriptor->schema_root());
  auto metadata = arrow::key_value_metadata({"ARROW:schema"}, {arrow_schema_base64});
  PARQUET_CATCH_NOT_OK(writer->file = parquet::ParquetFileWriter::Open(out, root, writer->properties, metadata));
  for (const auto& field : schema->fields()) {
    Spill spill;
    spill.schema = arrow::schema({field});
    ARROW_ASSIGN_OR_RAISE(spill.fd, temporary_file(writer->spill_dir));
    writer->spills.push_back(std::move(spill));
    ARROW_RETURN_NOT_OK(open_spill(writer->spills.back()));
  }
  return writer.release();
}

}  // namespace

extern "C" {

// Takes ownership of fd (closed by dpq_close, or before returning NULL). codec: "zstd" or "snappy"; spill_dir: where the
// temporary files go (unlinked at once); arrow_schema_base64: the ARROW:schema metadata. NULL on error.
void* dpq_open(int fd, struct ArrowSchema* c_schema, const char* codec, int64_t row_group_rows, const char* spill_dir,
               const char* arrow_schema_base64, char* error, int error_size) {
  try {
    auto writer = open_writer(fd, c_schema, codec, row_group_rows, spill_dir, arrow_schema_base64);
    if (!writer.ok()) {
      report(writer.status(), error, error_size);
      return nullptr;
    }
    return *writer;
  } catch (const std::exception& exception) {
    report(exception.what(), error, error_size);
    return nullptr;
  }
}

// Appends a record batch of the file's schema (moved from c_array). 0, or -1 with the error.
int dpq_write(void* handle, struct ArrowArray* c_array, char* error, int error_size) {
  auto* writer = static_cast<Writer*>(handle);
  try {
    auto batch = arrow::ImportRecordBatch(c_array, writer->schema);
    if (!batch.ok()) return report(batch.status(), error, error_size);
    auto status = write(*writer, *batch);
    return status.ok() ? 0 : report(status, error, error_size);
  } catch (const std::exception& exception) {
    return report(exception.what(), error, error_size);
  }
}

// Writes the last row group and the footer (when complete is 1), closes the files and frees the writer.
int dpq_close(void* handle, int complete, char* error, int error_size) {
  auto* writer = static_cast<Writer*>(handle);
  Status status;
  try {
    if (complete) status = finish(*writer);
  } catch (const std::exception& exception) {
    status = Status::IOError(exception.what());
  }
  close_spills(*writer);
  auto closed = writer->out->Close();
  if (status.ok()) status = closed;
  delete writer;
  return status.ok() ? 0 : report(status, error, error_size);
}

}  // extern "C"

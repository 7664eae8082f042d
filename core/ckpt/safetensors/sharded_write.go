package safetensors

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"ladle/core/ckpt"
)

// ShardedWriter writes a checkpoint as numbered shards (prefix-00001-of-0000n.safetensors)
// no larger than a maximum, plus prefix.safetensors.index.json. Shards are written to
// temporary files and take their names only when Close succeeds; Abort removes them.
// It implements ckpt.Sink.
type ShardedWriter struct {
	dir, prefix string
	metadata    map[string]string
	plan        [][]ckpt.Info // tensors of each shard
	total       int64
	cur         int // index of the shard being written, -1 before the first
	w           *Writer
	buf         *bufio.Writer
	tmp         *os.File
	temps       []string // finished temporary shard files, in order
	createdDir  string   // the folder (or outermost parent) this writer created, "" if it existed
	pos         int      // index of the next tensor overall
	all         []ckpt.Info
	err         error
	closed      bool
}

// PlanShards splits tensors, in order, into groups whose data is at most maxBytes;
// a tensor larger than maxBytes gets a group of its own.
func PlanShards(tensors []ckpt.Info, maxBytes int64) [][]ckpt.Info {
	var plan [][]ckpt.Info
	var size int64
	for _, t := range tensors {
		n := t.Bytes()
		if len(plan) == 0 || (size+n > maxBytes && size > 0) {
			plan = append(plan, nil)
			size = 0
		}
		plan[len(plan)-1] = append(plan[len(plan)-1], t)
		size += n
	}
	return plan
}

// ShardName is the file name of shard i (0-based) of n.
func ShardName(prefix string, i, n int) string {
	return fmt.Sprintf("%s-%05d-of-%05d.safetensors", prefix, i+1, n)
}

// NewShardedWriter prepares to write tensors into dir (created if needed) with the
// given file-name prefix ("model" gives model-00001-of-00002.safetensors and
// model.safetensors.index.json). metadata goes into every shard.
func NewShardedWriter(dir, prefix string, tensors []ckpt.Info, metadata map[string]string, maxShardBytes int64) (*ShardedWriter, error) {
	if maxShardBytes <= 0 {
		return nil, fmt.Errorf("safetensors: the maximum shard size must be positive, got %d", maxShardBytes)
	}
	if _, err := EncodeHeader(tensors, nil); err != nil { // names, dtypes, shapes
		return nil, err
	}
	created, err := ckpt.MkdirOutput(dir)
	if err != nil {
		return nil, err
	}
	// Partial shards of an earlier run that was killed (whatever its shard count).
	ckpt.SweepStalePartials(dir, "."+prefix+"-")
	sw := &ShardedWriter{dir: dir, prefix: prefix, metadata: metadata, all: tensors, cur: -1,
		plan: PlanShards(tensors, maxShardBytes), createdDir: created}
	for _, t := range tensors {
		sw.total += t.Bytes()
	}
	return sw, nil
}

// BeginTensor starts the next declared tensor, opening its shard when it is the first there.
func (sw *ShardedWriter) BeginTensor(name string) error {
	if sw.err != nil {
		return sw.err
	}
	if sw.pos >= len(sw.all) {
		return sw.fail(fmt.Errorf("safetensors: tensor %q was not declared", name))
	}
	if want := sw.all[sw.pos].Name; want != name {
		return sw.fail(fmt.Errorf("safetensors: tensor %q written out of order: %q comes next", name, want))
	}
	shardIdx, first := sw.shardOf(sw.pos)
	if first {
		if err := sw.finishShard(); err != nil {
			return err
		}
		if err := sw.startShard(shardIdx); err != nil {
			return err
		}
	}
	sw.pos++
	return sw.w.BeginTensor(name)
}

func (sw *ShardedWriter) shardOf(pos int) (idx int, first bool) {
	for i, group := range sw.plan {
		if pos < len(group) {
			return i, pos == 0
		}
		pos -= len(group)
	}
	return -1, false
}

func (sw *ShardedWriter) startShard(i int) error {
	tmp, err := ckpt.CreatePartial(sw.dir, "."+ShardName(sw.prefix, i, len(sw.plan))+".*.partial")
	if err != nil {
		return sw.fail(ckpt.OutputErrorFor(filepath.Join(sw.dir, ShardName(sw.prefix, i, len(sw.plan))), err))
	}
	sw.tmp, sw.cur = tmp, i
	sw.buf = bufio.NewWriterSize(tmp, 1<<20)
	sw.w, err = NewWriter(sw.buf, sw.plan[i], sw.metadata)
	return sw.fail(err)
}

func (sw *ShardedWriter) finishShard() error {
	if sw.tmp == nil {
		return nil
	}
	err := sw.w.Close()
	if err == nil {
		err = sw.buf.Flush()
	}
	if cerr := sw.tmp.Close(); err == nil {
		err = cerr
	}
	sw.temps = append(sw.temps, sw.tmp.Name())
	sw.tmp = nil
	return sw.fail(err)
}

// Write adds data to the current tensor.
func (sw *ShardedWriter) Write(p []byte) (int, error) {
	if sw.err != nil {
		return 0, sw.err
	}
	if sw.w == nil {
		return 0, sw.fail(fmt.Errorf("safetensors: Write before BeginTensor"))
	}
	n, err := sw.w.Write(p)
	return n, sw.fail(err)
}

// WriteTensor writes the whole of the next tensor's data.
func (sw *ShardedWriter) WriteTensor(name string, data []byte) error {
	if err := sw.BeginTensor(name); err != nil {
		return err
	}
	if want := sw.all[sw.pos-1].Bytes(); int64(len(data)) != want {
		return sw.fail(fmt.Errorf("safetensors: tensor %q: got %d bytes, its dtype and shape need %d", name, len(data), want))
	}
	_, err := sw.Write(data)
	return err
}

// Close finishes the last shard, gives every shard its final name and writes the index.
// On any error the temporary files are removed.
func (sw *ShardedWriter) Close() error {
	if sw.closed {
		return sw.err
	}
	if sw.err == nil && sw.pos < len(sw.all) {
		sw.fail(fmt.Errorf("safetensors: %d declared tensors were never written, the first is %q", len(sw.all)-sw.pos, sw.all[sw.pos].Name))
	}
	if sw.err == nil {
		sw.finishShard()
	}
	if sw.err != nil {
		sw.Abort()
		return sw.err
	}
	sw.closed = true
	idx := indexFile{Metadata: map[string]any{"total_size": sw.total}, WeightMap: map[string]string{}}
	for k, v := range sw.metadata {
		if k != "total_size" {
			idx.Metadata[k] = v
		}
	}
	var finals []string
	for i, group := range sw.plan {
		name := ShardName(sw.prefix, i, len(sw.plan))
		for _, t := range group {
			idx.WeightMap[t.Name] = name
		}
		final := filepath.Join(sw.dir, name)
		err := ckpt.CheckOutputFile(final)
		if err == nil {
			err = ckpt.RenamePartial(sw.temps[i], final) // recorded until the index is written
		}
		if err != nil {
			sw.err = err
			for _, f := range finals {
				ckpt.RemovePartial(f)
			}
			sw.closed = false
			sw.Abort()
			return err
		}
		finals = append(finals, final)
	}
	enc, err := json.MarshalIndent(idx, "", "  ")
	if err == nil {
		err = ckpt.WriteFileAtomic(filepath.Join(sw.dir, sw.prefix+ckpt.IndexSuffix), append(enc, '\n'))
	}
	if err != nil {
		for _, f := range finals {
			ckpt.RemovePartial(f)
		}
		sw.err = err
		ckpt.RemoveOutputDir(sw.createdDir)
		return err
	}
	ckpt.ForgetPartials(finals...)
	ckpt.KeepOutputDir(sw.createdDir)
	return nil
}

// Abort removes every temporary shard; nothing of the checkpoint is left behind.
func (sw *ShardedWriter) Abort() {
	if sw.closed {
		return
	}
	sw.closed = true
	if sw.tmp != nil {
		sw.tmp.Close()
		ckpt.RemovePartial(sw.tmp.Name())
		sw.tmp = nil
	}
	for _, t := range sw.temps {
		ckpt.RemovePartial(t)
	}
	ckpt.RemoveOutputDir(sw.createdDir) // a folder this run created goes too, if nothing else is in it
	if sw.err == nil {
		sw.err = fmt.Errorf("safetensors: the sharded write was aborted")
	}
}

func (sw *ShardedWriter) fail(err error) error {
	if err != nil && sw.err == nil {
		sw.err = err
	}
	return err
}

var _ ckpt.Sink = (*ShardedWriter)(nil)

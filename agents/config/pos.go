package config

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// blockPos records where one block and its attributes sit in a file. A nil
// *blockPos stands for a block built in code, whose positions are unknown.
type blockPos struct {
	def   hcl.Range            // the block's name label
	attrs map[string]hcl.Range // attribute values; "include[1]" for list items
	bad   map[string]bool      // attributes already reported as undecodable
}

// reported tells whether attr could not be decoded and so has a problem
// already; its value is the default, not worth a second one.
func (p *blockPos) reported(attr string) bool {
	return p != nil && p.bad[attr]
}

// at is where attr (or the block, for "") is, falling back from a list item
// to its list and from a missing attribute to the block.
func (p *blockPos) at(attr string) (hcl.Range, bool) {
	if p == nil {
		return hcl.Range{}, false
	}
	if r, ok := p.attrs[attr]; ok {
		return r, true
	}
	if i := strings.IndexByte(attr, '['); i > 0 {
		if r, ok := p.attrs[attr[:i]]; ok {
			return r, true
		}
	}
	return p.def, true
}

// dirPos holds the positions of a director file's blocks, index for index
// with the Director's slices. A nil *dirPos means none are known.
type dirPos struct {
	director                          *blockPos
	clients, storages, filesets, jobs []*blockPos
	consoles                          []*blockPos
}

func (p *dirPos) console(i int) *blockPos {
	if p == nil {
		return nil
	}
	return nth(p.consoles, i)
}

func (p *dirPos) main() *blockPos {
	if p == nil {
		return nil
	}
	return p.director
}

func (p *dirPos) client(i int) *blockPos {
	if p == nil {
		return nil
	}
	return nth(p.clients, i)
}

func (p *dirPos) storage(i int) *blockPos {
	if p == nil {
		return nil
	}
	return nth(p.storages, i)
}

func (p *dirPos) fileset(i int) *blockPos {
	if p == nil {
		return nil
	}
	return nth(p.filesets, i)
}

func (p *dirPos) job(i int) *blockPos {
	if p == nil {
		return nil
	}
	return nth(p.jobs, i)
}

func nth(ps []*blockPos, i int) *blockPos {
	if i < 0 || i >= len(ps) {
		return nil
	}
	return ps[i]
}

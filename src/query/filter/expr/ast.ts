/**
 * Syntax tree of the query language (a Stellar subset), as built by the generated parser
 * (grammar.peggy). Every node keeps where it came from so errors can point at it.
 */

/** Source span: 0-based offsets [start, end) and the 1-based line/column of `start`. */
export interface Loc {
  start: number;
  end: number;
  line: number;
  column: number;
}

export type CmpOp = '==' | '!=' | '<' | '<=' | '>' | '>=';

export type Expr =
  | { type: 'or'; left: Expr; right: Expr; loc: Loc }
  | { type: 'and'; left: Expr; right: Expr; loc: Loc }
  | { type: 'not'; operand: Expr; loc: Loc }
  | { type: 'cmp'; op: CmpOp; left: Expr; right: Expr; loc: Loc }
  | { type: 'in'; negated: boolean; left: Expr; right: Expr; loc: Loc }
  | { type: 'var'; name: string; loc: Loc }
  | { type: 'call'; name: string; args: Expr[]; loc: Loc }
  | { type: 'list'; items: Expr[]; loc: Loc }
  | { type: 'str'; value: string; loc: Loc }
  | { type: 'num'; value: number; text: string; loc: Loc }
  | { type: 'bool'; value: boolean; loc: Loc }
  | { type: 'null'; loc: Loc };

export type ExprType = Expr['type'];

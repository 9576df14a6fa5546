//! What an admin route reads besides the admin token, taken from its handler's extractor
//! types: the path segments (`web::Path<RoomId>`), the query (`web::Query<T>`, `T:
//! IntoParams`) and the JSON body (`Json<B>`). The OpenAPI document is filled in from this
//! (`openapi.rs`), so it shows exactly the types the handlers parse.

use actix_web::{web, Handler};
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{Ref, RefOr, Schema};
use utoipa::{IntoParams, ToSchema};

use crate::http::auth::Admin;
use crate::http::json_body::{CheckedBody, Json};
use crate::protocol::ids::{MessageId, RoomId, TokenId, UserRef};

/// Named schemas, as the document's components hold them.
pub type Components = Vec<(String, RefOr<Schema>)>;

/// What one handler reads.
#[derive(Default)]
pub struct Inputs {
    /// The schema of each path segment, in the order of the route's `{…}`.
    pub path: Vec<RefOr<Schema>>,
    pub query: Vec<Parameter>,
    /// The name of the JSON body's schema.
    pub body: Option<String>,
    /// Every named schema the above refer to.
    pub components: Components,
}

/// What a handler with these arguments reads.
pub fn of<F, Args>(_: &F) -> Inputs
where
    F: Handler<Args>,
    Args: Arguments,
{
    let mut inputs = Inputs::default();
    Args::describe(&mut inputs);
    inputs
}

/// A handler's arguments (a tuple of extractors).
pub trait Arguments {
    fn describe(inputs: &mut Inputs);
}

/// An extractor's part of [`Inputs`]; none for those that read nothing of the request's
/// path, query or body.
pub trait Input {
    fn describe(_: &mut Inputs) {}
}

macro_rules! arguments {
    ($($arg:ident),*) => {
        impl<$($arg: Input),*> Arguments for ($($arg,)*) {
            fn describe(_inputs: &mut Inputs) {
                $($arg::describe(_inputs);)*
            }
        }
    };
}

arguments!();
arguments!(A);
arguments!(A, B);
arguments!(A, B, C);
arguments!(A, B, C, D);

impl Input for Admin {}

impl<T: 'static> Input for web::Data<T> {}

impl<T: PathSegments> Input for web::Path<T> {
    fn describe(inputs: &mut Inputs) {
        T::describe(inputs);
    }
}

impl<T: IntoParams> Input for web::Query<T> {
    fn describe(inputs: &mut Inputs) {
        inputs
            .query
            .extend(T::into_params(|| Some(ParameterIn::Query)));
    }
}

impl<B: CheckedBody> Input for Json<B> {
    fn describe(inputs: &mut Inputs) {
        inputs.body = Some(named::<B>(&mut inputs.components));
    }
}

/// `T`'s schema among the components (with those it refers to); answers its name.
fn named<T: ToSchema>(components: &mut Components) -> String {
    let name = T::name().into_owned();
    components.push((name.clone(), T::schema()));
    T::schemas(components);
    name
}

/// The segments a `web::Path` reads: one type, or a tuple of them.
pub trait PathSegments {
    fn describe(inputs: &mut Inputs);
}

/// One path segment's type.
pub trait PathSegment {
    fn schema(components: &mut Components) -> RefOr<Schema>;
}

/// Free text (a bot's id, checked by the handler).
impl PathSegment for String {
    fn schema(_: &mut Components) -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::String).into()
    }
}

macro_rules! id_segments {
    ($($id:ty),*) => {$(
        impl PathSegment for $id {
            fn schema(components: &mut Components) -> RefOr<Schema> {
                Ref::from_schema_name(named::<$id>(components)).into()
            }
        }

        impl PathSegments for $id {
            fn describe(inputs: &mut Inputs) {
                let schema = <$id as PathSegment>::schema(&mut inputs.components);
                inputs.path.push(schema);
            }
        }
    )*};
}

id_segments!(RoomId, UserRef, TokenId, MessageId);

impl PathSegments for String {
    fn describe(inputs: &mut Inputs) {
        let schema = <String as PathSegment>::schema(&mut inputs.components);
        inputs.path.push(schema);
    }
}

impl<A: PathSegment, B: PathSegment> PathSegments for (A, B) {
    fn describe(inputs: &mut Inputs) {
        let first = A::schema(&mut inputs.components);
        let second = B::schema(&mut inputs.components);
        inputs.path.extend([first, second]);
    }
}

#[cfg(test)]
mod tests {
    use utoipa::PartialSchema;

    use super::super::ROUTES;
    use super::*;

    /// The `{…}` names of a route's path.
    fn segments(path: &str) -> Vec<&str> {
        path.split('/')
            .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
            .collect()
    }

    #[test]
    fn every_route_s_handler_reads_one_typed_segment_per_path_parameter() {
        for (route, inputs) in ROUTES.iter().zip(super::super::inputs()) {
            let (method, path) = route;
            assert_eq!(
                segments(path).len(),
                inputs.path.len(),
                "{method} {path}: the handler's web::Path does not fit the route"
            );
            if *method == "get" || *method == "delete" {
                assert!(inputs.body.is_none(), "{method} {path} reads a body");
            }
        }
    }

    #[test]
    fn a_json_body_is_described_by_its_own_type() {
        use crate::http::admin::requests::CreateRoom;
        let inputs = of(&crate::http::admin::rooms::create);
        assert_eq!(inputs.body.as_deref(), Some("CreateRoom"));
        let described = inputs
            .components
            .iter()
            .find(|(name, _)| name == "CreateRoom")
            .map(|(_, schema)| serde_json::to_value(schema).expect("JSON"));
        let own = serde_json::to_value(CreateRoom::schema()).expect("JSON");
        assert_eq!(described, Some(own));
    }
}
